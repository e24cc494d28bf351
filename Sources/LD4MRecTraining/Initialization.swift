#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore

extension Trainer {
    /// The frozen signals of the dataset and freshly initialised weights.
    static func initialParameters(_ dataset: Dataset, _ h: Hyperparameters, _ rng: inout SeededGenerator) throws -> ModelParameters {
        let (n, u, k, df) = (dataset.itemCount, dataset.userCount, h.svdRank, h.stepEmbeddingSize)
        guard k <= min(n, u) else {
            throw LD4MRecError.invalidArgument("svd_rank \(k) exceeds min(users, items) = \(min(n, u))")
        }
        var degrees = [Int64](repeating: 0, count: n)
        for item in dataset.train.items { degrees[Int(item)] += 1 }
        let (v, singular) = try RandomizedSVD.decompose(dataset.train, columns: n, rank: k, oversamples: h.svdOversamples,
                                                        powerIterations: h.svdPowerIterations, seed: h.seed)
        guard singular.allSatisfy({ $0 > 1e-6 }) else {
            throw LD4MRecError.invalidArgument("the training matrix has rank below svd_rank \(k); lower it")
        }
        let modalities = dataset.modalities.map { modality in
            Modality(name: modality.name, features: h.featureStandardization == .trainingItems
                ? standardized(modality.features, overItems: degrees.map { $0 > 0 }) : modality.features)
        }

        var p = ModelParameters(
            hyperparameters: h, itemIDs: (0 ..< n).map { Int64($0) }, userIDs: (0 ..< u).map { Int64($0) },
            svdItemFactors: v, svdSingularValues: singular, itemDegrees: degrees, modalities: modalities,
            input: DenseLayer(weight: Matrix(zeros: 0, 0), bias: []), blocks: [], output: DenseLayer(weight: Matrix(zeros: 0, 0), bias: []),
            zIn: Matrix(zeros: 0, 0), zInDefault: [Float](repeating: 0, count: df), histories: dataset.train)
        p.initialiseWeights(&rng)
        return p
    }

    /// Each column standardised with the mean and standard deviation over `overItems`
    /// (constant columns are only centred).
    static func standardized(_ features: Matrix, overItems include: [Bool]) -> Matrix {
        var result = features
        let rows = (0 ..< features.rows).filter { include[$0] }
        guard !rows.isEmpty else { return result }
        for c in 0 ..< features.cols {
            let mean = rows.reduce(0.0) { $0 + Double(features[$1, c]) } / Double(rows.count)
            let variance = rows.reduce(0.0) { $0 + pow(Double(features[$1, c]) - mean, 2) } / Double(rows.count)
            let std = variance > 1e-12 ? variance.squareRoot() : 1
            for r in 0 ..< features.rows { result[r, c] = Float((Double(features[r, c]) - mean) / std) }
        }
        return result
    }
}

extension ModelParameters {
    /// Fresh C-Net weights and z_in for these signals (MODEL.md: Xavier-normal weights,
    /// biases N(0, 0.001^2), FiLM scale = identity, shift = 0, z_in ~ N(0, 1)).
    mutating func initialiseWeights(_ rng: inout SeededGenerator) {
        let (h, modalities) = (hyperparameters, self.modalities)
        let (n, u, d, k, df) = (itemCount, userCount, h.hiddenSize, h.svdRank, h.stepEmbeddingSize)
        func xavier(_ out: Int, _ inputs: Int) -> DenseLayer {
            let std = (2 / Double(out + inputs)).squareRoot()
            return DenseLayer(weight: Matrix(unchecked: out, inputs, (0 ..< out * inputs).map { _ in Float(rng.nextGaussian() * std) }),
                              bias: (0 ..< out).map { _ in Float(rng.nextGaussian() * 0.001) })
        }
        func film(_ inputs: Int, scale: Bool) -> FiLMNetwork {
            // The scale MLP starts as the identity map, the shift MLP at 0.
            FiLMNetwork(fc1: xavier(h.filmHiddenSize, inputs),
                        fc2: DenseLayer(weight: Matrix(zeros: d, h.filmHiddenSize), bias: [Float](repeating: scale ? 1 : 0, count: d)))
        }
        input = xavier(d, n)
        blocks = (0 ..< h.blocks).map { _ in
            CNetBlock(hidden: xavier(d, d + df), condition: xavier(d, 2 * k), gate: xavier(d, df),
                      filmScale: modalities.map { film($0.features.cols, scale: true) },
                      filmShift: modalities.map { film($0.features.cols, scale: false) })
        }
        output = xavier(n, d)
        zIn = Matrix(unchecked: u, df, (0 ..< u * df).map { _ in Float(rng.nextGaussian()) })
    }
}
