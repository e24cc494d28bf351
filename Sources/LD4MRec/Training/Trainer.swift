#if canImport(Glibc)
import Glibc
#endif

/// One epoch's outcome, as the trainer reports it.
public struct EpochReport: Sendable {
    public let epoch: Int
    /// Mean training loss over the epoch's minibatches (importance-weighted).
    public let loss: Double
    public let validation: RankingMetrics
    public let seconds: Double
    public let isBest: Bool
    public let bestEpoch: Int
}

/// The outcome of a training run: the best epoch's model.
public struct TrainingResult: Sendable {
    public let parameters: ModelParameters
    public let bestEpoch: Int
    /// Validation metrics of the best epoch's C-Net alone (what early stopping saw).
    public let bestValidation: RankingMetrics
    /// Validation metrics of the saved model (the C-Net mixed with the item-item prior,
    /// when there is one).
    public let finalValidation: RankingMetrics
    public let epochs: [EpochReport]
    /// Seconds spent on the frozen signals (SVD, degrees, features, item-item prior).
    public let setupSeconds: Double
    /// What the trainer decided on its own (e.g. skipping the prior), for the log.
    public let notes: [String]
}

/// Trains LD4MRec on a dataset as docs/MODEL.md's Algorithm 1 describes: minibatches of
/// users, the forward diffusion process, a soft reconstruction target, importance sampling
/// over steps, Adam, early stopping on validation Recall@20 keeping the best weights.
/// Deterministic for a given seed. Memory grows with the batch, never with users x items.
public final class Trainer {
    public let dataset: Dataset
    public let hyperparameters: Hyperparameters
    private var rng: SeededGenerator
    private let frozen: ModelParameters       // signals and ids; weights replaced as training goes
    private let signals: ConditionSignals
    private var weights: TrainableWeights
    private let setupSeconds: Double
    private let itemItem: Matrix?
    private var notes: [String] = []

    public init(dataset: Dataset, hyperparameters h: Hyperparameters) throws {
        try h.validateArchitecture { LD4MRecError.invalidArgument($0) }
        try h.validateTraining()
        guard dataset.train.items.count > 0 else { throw LD4MRecError.invalidArgument("the dataset has no training interactions") }
        self.dataset = dataset
        hyperparameters = h
        rng = SeededGenerator(seed: h.seed)
        let start = monotonicSeconds()
        frozen = try Self.initialParameters(dataset, h, &rng)
        if h.itemItemPrior == .ease && dataset.itemCount <= Hyperparameters.itemItemMaxItems {
            itemItem = try EASE.itemItem(dataset.train, items: dataset.itemCount, lambda: h.easeLambda)
        } else {
            itemItem = nil
            if h.itemItemPrior == .ease {
                notes.append("item-item prior skipped: \(dataset.itemCount) items exceed \(Hyperparameters.itemItemMaxItems)")
            }
        }
        setupSeconds = monotonicSeconds() - start
        signals = ConditionSignals(svdItemFactors: frozen.svdItemFactors, singularValues: frozen.svdSingularValues,
                                   itemDegrees: frozen.itemDegrees, features: frozen.modalities.map(\.features))
        weights = TrainableWeights(frozen)
    }

    /// The model with the current weights (z_in_default = the mean of z_in).
    public var currentParameters: ModelParameters { parameters(weights) }

    private func parameters(_ w: TrainableWeights) -> ModelParameters {
        var p = frozen
        p.input = w.input
        p.blocks = w.blocks
        p.output = w.output
        p.zIn = w.zIn
        p.zInDefault = (0 ..< w.zIn.cols).map { c in
            (0 ..< w.zIn.rows).reduce(Float(0)) { $0 + w.zIn[$1, c] } / Float(max(1, w.zIn.rows))
        }
        return p
    }

    /// Runs epochs until `maxEpochs` or `patience` epochs without a better validation
    /// Recall@20, calling `progress` after each. Returns the best epoch's model.
    public func train(progress: (EpochReport) -> Void = { _ in }) throws -> TrainingResult {
        let h = hyperparameters
        var optimizer = AdamOptimizer(for: weights, learningRate: h.learningRate, weightDecay: h.weightDecay)
        var sampler = StepSampler(steps: h.steps, importance: h.stepSampler == .importance)
        var gradients = weights.zeros()
        let trainUsers = (0 ..< dataset.userCount).filter { !dataset.train.row($0).isEmpty }

        // Epoch 0 stands for the initial weights; any trained epoch replaces it.
        var best = (epoch: 0, metrics: RankingMetrics(recall20: -1), weights: weights)
        var reports: [EpochReport] = []
        for epoch in 1 ... max(1, h.maxEpochs) {
            let start = monotonicSeconds()
            var order = trainUsers
            order.shuffle(using: &rng)
            var lossSum = 0.0
            var batches = 0
            for batchStart in stride(from: 0, to: order.count, by: h.batchSize) {
                let users = Array(order[batchStart ..< min(batchStart + h.batchSize, order.count)])
                let (batch, steps) = makeBatch(users, sampler: &sampler)
                gradients.setZero()
                let (loss, perUser) = CNetTraining.lossAndGradients(weights, slope: h.leakyReluSlope, loss: h.loss,
                                                                     batch: batch, gradients: &gradients)
                guard loss.isFinite else {
                    throw LD4MRecError.invalidArgument("training diverged at epoch \(epoch) (loss \(loss)); lower --lr")
                }
                optimizer.update(&weights, gradients: gradients)
                sampler.record(steps: steps, losses: perUser)
                lossSum += loss
                batches += 1
            }
            let validation = try Evaluation.evaluate(try Model(parameters(weights)), on: dataset, split: .valid)
            let isBest = validation.recall20 > best.metrics.recall20
            if isBest { best = (epoch, validation, weights) }
            let report = EpochReport(epoch: epoch, loss: lossSum / Double(max(1, batches)), validation: validation,
                                     seconds: monotonicSeconds() - start, isBest: isBest, bestEpoch: best.epoch)
            reports.append(report)
            progress(report)
            if epoch - best.epoch >= h.patience { break }
        }
        let (final, finalValidation) = try withItemItemPrior(parameters(best.weights), cnetValidation: best.metrics)
        return TrainingResult(parameters: final, bestEpoch: best.epoch, bestValidation: best.metrics,
                              finalValidation: finalValidation, epochs: reports, setupSeconds: setupSeconds, notes: notes)
    }

    // MARK: The item-item prior

    /// Mixes the item-item prior into a trained C-Net: scores become
    /// `w / sd_cnet * xhat0 + (1 - w) / sd_prior * x_in B`, the standard deviations taken
    /// over the validation users' score vectors, w fixed or chosen on validation
    /// Recall@20 from 0, 0.05, ..., 1.
    private func withItemItemPrior(_ cnet: ModelParameters, cnetValidation: RankingMetrics) throws
        -> (ModelParameters, RankingMetrics) {
        guard let itemItem else {
            var alone = cnet
            alone.hyperparameters.itemItemPrior = .none  // the file records what it holds
            return (alone, cnetValidation)
        }
        let n = dataset.itemCount
        let users = (0 ..< dataset.userCount).filter { !dataset.validation.row($0).isEmpty }
        let model = try Model(cnet)
        var cnetScores = [Float](repeating: 0, count: try checkedProduct([users.count, n], what: "validation scores"))
        let queries = users.map { model.query(history: dataset.train.row($0).map { Int64($0) }, user: Int64($0)) }
        try cnetScores.withUnsafeMutableBufferPointer { try model.scores(queries, into: $0) }
        var priorScores = [Float](repeating: 0, count: cnetScores.count)
        for (r, user) in users.enumerated() {
            priorScores.withUnsafeMutableBufferPointer { out in
                itemItem.values.withUnsafeBufferPointer { b in
                    for item in dataset.train.row(user) { BLAS.axpy(1, b.baseAddress! + Int(item) * n, out.baseAddress! + r * n, count: n) }
                }
            }
        }
        let (sdCNet, sdPrior) = (standardDeviation(cnetScores), standardDeviation(priorScores))
        func mixed(_ w: Double) -> (cnet: Float, prior: Float) {
            (Float(w / max(sdCNet, 1e-12)), Float((1 - w) / max(sdPrior, 1e-12)))
        }
        let candidates = hyperparameters.ensembleWeight.map { [$0] } ?? (0 ... 20).map { Double($0) / 20 }
        var best = (weight: 1.0, metrics: RankingMetrics(recall20: -1))
        for w in candidates {
            let (a, b) = mixed(w)
            var rankings: [[Int64]] = []
            for (r, user) in users.enumerated() {
                let train = Set(dataset.train.row(user))
                var selector = TopKSelector(k: 20)
                for i in 0 ..< n where !train.contains(Int32(i)) {
                    selector.offer(row: Int32(i), score: a * cnetScores[r * n + i] + b * priorScores[r * n + i])
                }
                rankings.append(selector.sorted().map { Int64($0.row) })
            }
            let metrics = RankingMetrics.compute(Array(zip(rankings, users.map { Set(dataset.validation.row($0).map { Int64($0) }) })))
            if metrics.recall20 > best.metrics.recall20 { best = (w, metrics) }
        }
        var result = cnet
        (result.cnetScale, result.itemItemScale) = mixed(best.weight)
        result.itemItem = itemItem
        result.hyperparameters.ensembleWeight = best.weight
        return (result, best.metrics)
    }

    private func standardDeviation(_ values: [Float]) -> Double {
        guard !values.isEmpty else { return 1 }
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(values.count)
        return variance.squareRoot()
    }

    // MARK: Minibatches

    /// Builds x_t, the condition signals, z_t and the soft target for a batch of users.
    private func makeBatch(_ users: [Int], sampler: inout StepSampler) -> (TrainingBatch, [Int]) {
        let h = hyperparameters
        let n = dataset.itemCount
        let b = users.count
        var steps: [Int] = []
        var lossWeights: [Float] = []
        for _ in users {
            let (t, weight) = sampler.sample(&rng)
            steps.append(t)
            lossWeights.append(Float(weight))
        }

        // x_t = sqrt(abar_t) x_in + sqrt(1 - abar_t) eps, then input dropout (inverted).
        var x = Matrix(zeros: b, n)
        x.values.withUnsafeMutableBufferPointer { rng.fillGaussian($0) }
        var histories: [[Int32]] = []
        let dropout = Float(h.inputDropout)
        for (r, user) in users.enumerated() {
            let noise = Float(oneMinusAlphaBar(steps[r]))
            let (signal, spread) = ((1 - noise).squareRoot(), noise.squareRoot())
            for i in 0 ..< n { x.values[r * n + i] *= spread }
            for item in dataset.train.row(user) { x.values[r * n + Int(item)] += signal }
            var kept = Array(dataset.train.row(user))
            if dropout > 0 {
                for i in 0 ..< n {
                    if Float(rng.nextUniform()) < dropout { x.values[r * n + i] = 0 } else { x.values[r * n + i] /= 1 - dropout }
                }
                if h.conditionsFromDroppedHistory { kept = kept.filter { x.values[r * n + Int($0)] != 0 } }
            }
            histories.append(kept)
        }
        let (collaborative, preferences) = signals.compute(histories)

        // Soft target: positives become 1 - gamma, zeros gamma, each with probability p.
        var target = Matrix(zeros: b, n)
        let (p, gamma) = (h.softTargetProbability, Float(h.softTargetGamma))
        for (r, user) in users.enumerated() {
            if p > 0 { for i in 0 ..< n where rng.nextUniform() < p { target.values[r * n + i] = gamma } }
            for item in dataset.train.row(user) {
                target.values[r * n + Int(item)] = p > 0 && rng.nextUniform() < p ? 1 - gamma : 1
            }
        }

        var stepEmbedding = Matrix(zeros: b, h.stepEmbeddingSize)
        for (r, t) in steps.enumerated() {
            let embedding = Self.stepEmbedding(t, size: h.stepEmbeddingSize)
            for c in embedding.indices { stepEmbedding[r, c] = embedding[c] }
        }
        return (TrainingBatch(users: users, x: x, stepEmbedding: stepEmbedding, collaborative: collaborative,
                              preferences: preferences, target: target, lossWeights: lossWeights), steps)
    }

    /// 1 - abar_t = s_noise (a_min + (t - 1) / (T - 1) (1 - a_min)), t = 1...T.
    func oneMinusAlphaBar(_ t: Int) -> Double {
        let h = hyperparameters
        let fraction = h.steps > 1 ? Double(t - 1) / Double(h.steps - 1) : 0
        return h.noiseScale * (h.noiseMin + fraction * (1 - h.noiseMin))
    }

    /// z_t[2j] = sin(t / 10000^(2j/d_f)), z_t[2j+1] = cos(t / 10000^(2j/d_f)).
    static func stepEmbedding(_ t: Int, size: Int) -> [Float] {
        (0 ..< size).map { c in
            let j = c / 2
            let angle = Double(t) / pow(10000, Double(2 * j) / Double(size))
            return Float(c % 2 == 0 ? sin(angle) : cos(angle))
        }
    }

    // MARK: Initial parameters

    private static func initialParameters(_ dataset: Dataset, _ h: Hyperparameters, _ rng: inout SeededGenerator) throws -> ModelParameters {
        let (n, u, d, k, df) = (dataset.itemCount, dataset.userCount, h.hiddenSize, h.svdRank, h.stepEmbeddingSize)
        guard k <= min(n, u) else {
            throw LD4MRecError.invalidArgument("--svd-rank \(k) exceeds min(users, items) = \(min(n, u))")
        }
        var degrees = [Int64](repeating: 0, count: n)
        for item in dataset.train.items { degrees[Int(item)] += 1 }
        let (v, singular) = try RandomizedSVD.decompose(dataset.train, columns: n, rank: k, oversamples: h.svdOversamples,
                                                        powerIterations: h.svdPowerIterations, seed: h.seed)
        guard singular.allSatisfy({ $0 > 1e-6 }) else {
            throw LD4MRecError.invalidArgument("the training matrix has rank below --svd-rank \(k); lower it")
        }
        let modalities = dataset.modalities.map { modality in
            Modality(name: modality.name, features: h.featureStandardization == .trainingItems
                ? standardized(modality.features, overItems: degrees.map { $0 > 0 }) : modality.features)
        }

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
        let input = xavier(d, n)
        let blocks = (0 ..< h.blocks).map { _ in
            CNetBlock(hidden: xavier(d, d + df), condition: xavier(d, 2 * k), gate: xavier(d, df),
                      filmScale: modalities.map { film($0.features.cols, scale: true) },
                      filmShift: modalities.map { film($0.features.cols, scale: false) })
        }
        let output = xavier(n, d)
        let zIn = Matrix(unchecked: u, df, (0 ..< u * df).map { _ in Float(rng.nextGaussian()) })
        return ModelParameters(
            hyperparameters: h, itemIDs: (0 ..< n).map { Int64($0) }, userIDs: (0 ..< u).map { Int64($0) },
            svdItemFactors: v, svdSingularValues: singular, itemDegrees: degrees, modalities: modalities,
            input: input, blocks: blocks, output: output, zIn: zIn, zInDefault: [Float](repeating: 0, count: df),
            histories: dataset.train)
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

/// Importance sampling over diffusion steps (docs/MODEL.md): uniform with weight 1 until
/// every step holds 10 loss records, then p_t proportional to sqrt(mean of squared
/// records) with a uniform floor of 0.001, and weight 1 / (T p_t).
struct StepSampler {
    let steps: Int
    let importance: Bool
    private var records: [[Double]]
    static let history = 10
    static let uniformFloor = 0.001

    init(steps: Int, importance: Bool) {
        self.steps = steps
        self.importance = importance
        records = [[Double]](repeating: [], count: steps)
    }

    var probabilities: [Double]? {
        guard importance, records.allSatisfy({ $0.count == Self.history }) else { return nil }
        let raw = records.map { ($0.reduce(0) { $0 + $1 * $1 } / Double($0.count)).squareRoot() }
        let total = raw.reduce(0, +)
        guard total > 0, total.isFinite else { return nil }
        return raw.map { $0 / total * (1 - Self.uniformFloor) + Self.uniformFloor / Double(steps) }
    }

    /// A step t in 1...T and its loss weight.
    func sample(_ rng: inout SeededGenerator) -> (Int, Double) {
        guard let p = probabilities else { return (1 + Int(rng.next() % UInt64(steps)), 1) }
        var u = rng.nextUniform()
        for (index, probability) in p.enumerated() {
            if u < probability || index == steps - 1 { return (index + 1, 1 / (Double(steps) * probability)) }
            u -= probability
        }
        return (steps, 1 / (Double(steps) * p[steps - 1]))
    }

    /// One record per step drawn in the batch: the mean unweighted loss of its users.
    mutating func record(steps drawn: [Int], losses: [Double]) {
        var sums = [Double](repeating: 0, count: steps)
        var counts = [Int](repeating: 0, count: steps)
        for (t, loss) in zip(drawn, losses) {
            sums[t - 1] += loss
            counts[t - 1] += 1
        }
        for t in 0 ..< steps where counts[t] > 0 {
            records[t].append(sums[t] / Double(counts[t]))
            if records[t].count > Self.history { records[t].removeFirst() }
        }
    }
}

func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
