/// A model with random weights and random histories, for integration tests, examples and
/// smoke tests of a deployment. Its recommendations are meaningless; every table is
/// non-trivial so that every term of the forward pass is exercised.
public struct SyntheticModelSpec: Sendable {
    public var items = 300
    public var users = 60
    public var hyperparameters: Hyperparameters
    public var modalities: [(name: String, dimension: Int)] = [("image", 16), ("audio", 8)]
    /// Mean training-history length.
    public var historyLength = 8
    /// Include a random item-item prior and score mixture.
    public var itemItemPrior = true
    /// Make that prior sparse (a few random neighbours per item) rather than dense.
    public var sparsePrior = false
    /// Item ids: item i has id `firstItemID + i * itemIDStep` (a negative step orders the
    /// catalogue by descending id). Two specs with other ids make models whose catalogues
    /// overlap, differ and order items differently, as a retrained model's may.
    public var firstItemID: Int64 = 1000
    public var itemIDStep: Int64 = 7
    public var seed: UInt64 = 1

    public init() {
        var h = Hyperparameters()
        h.hiddenSize = 32
        h.svdRank = 8
        h.stepEmbeddingSize = 10
        h.filmHiddenSize = 16
        hyperparameters = h
    }
}

extension ModelParameters {
    /// Random parameters following `spec`. Item ids are 1000, 1007, 1014, ... (unless the
    /// spec says otherwise); user ids 500, 503, 506, ...: not row numbers, so that id
    /// mapping is exercised. The last few items get no training interaction (cold items).
    public static func synthetic(_ spec: SyntheticModelSpec) throws -> ModelParameters {
        var rng = SeededGenerator(seed: spec.seed)
        var h = spec.hyperparameters
        h.seed = spec.seed
        try h.validateArchitecture()
        guard spec.items >= 2, spec.users >= 1, spec.historyLength >= 1 else {
            throw LD4MRecError.invalidArgument("a synthetic model needs at least 2 items, 1 user and history length 1")
        }
        let (span, spanOverflow) = spec.itemIDStep.multipliedReportingOverflow(by: Int64(spec.items - 1))
        guard spec.itemIDStep != 0, !spanOverflow, !spec.firstItemID.addingReportingOverflow(span).overflow else {
            throw LD4MRecError.invalidArgument("item ids \(spec.firstItemID) + i * \(spec.itemIDStep) must be distinct int64 values for \(spec.items) items")
        }
        let (n, d, k, df) = (spec.items, h.hiddenSize, h.svdRank, h.stepEmbeddingSize)

        func gaussian(_ count: Int, _ scale: Double) -> [Float] {
            (0 ..< count).map { _ in Float(rng.nextGaussian() * scale) }
        }
        func matrix(_ rows: Int, _ cols: Int, _ scale: Double) -> Matrix {
            Matrix(unchecked: rows, cols, gaussian(rows * cols, scale))
        }
        func dense(out: Int, in inputs: Int) -> DenseLayer {
            DenseLayer(weight: matrix(out, inputs, 1 / Double(inputs).squareRoot()), bias: gaussian(out, 0.1))
        }

        // Histories over all but the last few items, so that cold items exist.
        let warmItems = max(1, n - max(1, n / 20))
        var offsets = [0]
        var historyItems: [Int32] = []
        var degrees = [Int64](repeating: 0, count: n)
        for _ in 0 ..< spec.users {
            let length = 1 + Int(rng.next() % UInt64(2 * spec.historyLength))
            var rows = Set<Int32>()
            while rows.count < min(length, warmItems) { rows.insert(Int32(rng.next() % UInt64(warmItems))) }
            for row in rows.sorted() {
                historyItems.append(row)
                degrees[Int(row)] += 1
            }
            offsets.append(historyItems.count)
        }

        let modalities = spec.modalities.map { Modality(name: $0.name, features: matrix(n, $0.dimension, 1)) }
        let blocks = (0 ..< h.blocks).map { _ in
            CNetBlock(
                hidden: dense(out: d, in: d + df), condition: dense(out: d, in: 2 * k), gate: dense(out: d, in: df),
                filmScale: spec.modalities.map {
                    FiLMNetwork(fc1: dense(out: h.filmHiddenSize, in: $0.dimension), fc2: dense(out: d, in: h.filmHiddenSize))
                },
                filmShift: spec.modalities.map {
                    FiLMNetwork(fc1: dense(out: h.filmHiddenSize, in: $0.dimension), fc2: dense(out: d, in: h.filmHiddenSize))
                })
        }
        let zIn = matrix(spec.users, df, 1)
        var zInDefault = [Float](repeating: 0, count: df)
        for u in 0 ..< spec.users { for c in 0 ..< df { zInDefault[c] += zIn[u, c] / Float(spec.users) } }

        if !spec.itemItemPrior { h.itemItemPrior = .none }
        var parameters = ModelParameters(
            hyperparameters: h,
            itemIDs: (0 ..< n).map { spec.firstItemID + spec.itemIDStep * Int64($0) },
            userIDs: (0 ..< spec.users).map { 500 + 3 * Int64($0) },
            svdItemFactors: matrix(n, k, 1 / Double(n).squareRoot()),
            svdSingularValues: (0 ..< k).map { Float(k - $0) + 0.5 },
            itemDegrees: degrees,
            modalities: modalities,
            input: dense(out: d, in: n),
            blocks: blocks,
            output: dense(out: n, in: d),
            zIn: zIn, zInDefault: zInDefault,
            histories: CSRHistories(offsets: offsets, items: historyItems))
        if spec.itemItemPrior && spec.sparsePrior {
            var sparse = SparseRows(cols: n, offsets: [0], columns: [], values: [])
            for i in 0 ..< n {
                let neighbours = Set((0 ..< 1 + Int(rng.next() % 8)).map { _ in Int32(rng.next() % UInt64(n)) }).subtracting([Int32(i)])
                for j in neighbours.sorted() {
                    sparse.columns.append(j)
                    sparse.values.append(Float(rng.nextGaussian() * 0.3))
                }
                sparse.offsets.append(sparse.columns.count)
            }
            parameters.itemItemSparse = sparse
            parameters.hyperparameters.itemItemPrior = .knn
        } else if spec.itemItemPrior {
            var prior = matrix(n, n, 0.1)
            for i in 0 ..< n { prior[i, i] = 0 }
            parameters.itemItem = prior
            parameters.hyperparameters.itemItemPrior = .ease
        }
        if spec.itemItemPrior {
            parameters.cnetScale = 0.7
            parameters.itemItemScale = 1.3
        }
        return parameters
    }
}
