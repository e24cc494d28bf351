import LD4MRecCore
import LD4MRecServing

extension Trainer {
    /// Mixes the item-item prior into a trained C-Net: scores become
    /// `w / sd_cnet * xhat0 + (1 - w) / sd_prior * x_in B`, the standard deviations taken
    /// over the validation users' score vectors, w fixed or chosen on validation
    /// Recall@20 from 0, 0.05, ..., 1. With two priors (EASE and kNN), each gets its own
    /// w and the better mixture on validation is kept (the first on a tie). Validation users
    /// are scored in chunks, twice per prior (the spreads, then the rankings): memory grows
    /// with a chunk, not with users x items.
    func withItemItemPrior(_ cnet: ModelParameters, cnetValidation: RankingMetrics) throws
        -> (ModelParameters, RankingMetrics) {
        guard !priors.isEmpty else { return (cnet.withoutItemItemPrior(), cnetValidation) }
        let n = dataset.itemCount
        let validation = HeldOutSplit(dataset, .valid)
        let model = try Model(cnet)
        let queries = validation.queries(model)
        let priorScores = UnsafeMutablePointer<Float>.allocate(capacity: try checkedProduct([scoredChunk(items: n), n], what: "validation scores"))
        defer { priorScores.deallocate() }
        /// The C-Net's and the prior's scores of each chunk of validation users, for `body`
        /// (offset of the chunk's first user, its size, the C-Net's scores).
        func forEachChunk(_ prior: BuiltPrior, _ body: (Int, Int, UnsafePointer<Float>) -> Void) throws {
            try forEachScoredChunk(of: queries, by: model) { start, count, cnetScores in
                priorScores.update(repeating: 0, count: count * n)
                for r in 0 ..< count {
                    for item in dataset.train.row(validation.users[start + r]) {
                        prior.addRow(Int(item), to: priorScores + r * n, items: n)
                    }
                }
                body(start, count, cnetScores)
            }
        }
        /// The prior's mixture with the best validation Recall@20: its scales and metrics.
        func mixture(with prior: BuiltPrior) throws -> (weight: Double, scales: (cnet: Float, prior: Float), metrics: RankingMetrics) {
            var (cnetMoments, priorMoments) = (Moments(), Moments())
            try forEachChunk(prior) { _, count, cnetScores in
                cnetMoments.add(cnetScores, count * n)
                priorMoments.add(priorScores, count * n)
            }
            let (sdCNet, sdPrior) = (cnetMoments.standardDeviation, priorMoments.standardDeviation)
            func mixed(_ w: Double) -> (cnet: Float, prior: Float) {
                (Float(w / max(sdCNet, 1e-12)), Float((1 - w) / max(sdPrior, 1e-12)))
            }
            let candidates = hyperparameters.ensembleWeight.map { [$0] } ?? (0 ... 20).map { Double($0) / 20 }
            var rankings = [[[Int64]]](repeating: [], count: candidates.count)
            var row = [Float](repeating: 0, count: n)
            try forEachChunk(prior) { start, count, cnetScores in
                for (c, w) in candidates.enumerated() {
                    let (a, b) = mixed(w)
                    for r in 0 ..< count {
                        let (cnetRow, priorRow) = (cnetScores + r * n, priorScores + r * n)
                        for i in 0 ..< n { row[i] = a * cnetRow[i] + b * priorRow[i] }
                        let train = Array(dataset.train.row(validation.users[start + r]))  // ascending
                        rankings[c].append(topK(row, count: n, k: 20, skipping: train).map { Int64($0.row) })
                    }
                }
            }
            var best = (weight: 1.0, metrics: RankingMetrics(recall20: -1))
            for (c, w) in candidates.enumerated() {
                let metrics = validation.metrics(rankings[c])
                if metrics.recall20 > best.metrics.recall20 { best = (w, metrics) }
            }
            return (best.weight, mixed(best.weight), best.metrics)
        }

        var best: (parameters: ModelParameters, metrics: RankingMetrics)?
        for prior in priors {
            let mix = try mixture(with: prior)
            if priors.count > 1 {
                let recall = (mix.metrics.recall20 * 1e4).rounded() / 1e4
                notes.append("\(prior.description) mixed with C-Net weight \(mix.weight): validation recall@20 \(recall)")
            }
            if let best, best.metrics.recall20 >= mix.metrics.recall20 { continue }
            var result = prior.installed(in: cnet)
            (result.cnetScale, result.itemItemScale) = mix.scales
            result.hyperparameters.ensembleWeight = mix.weight
            best = (result, mix.metrics)
        }
        return best ?? (cnet.withoutItemItemPrior(), cnetValidation)
    }
}

extension Trainer {
    /// The standard deviation of `model`'s scores over the validation users' score
    /// vectors, scored in chunks.
    func validationSpread(of model: Model) throws -> Double {
        var moments = Moments()
        try forEachScoredChunk(of: HeldOutSplit(dataset, .valid).queries(model), by: model) { _, count, scores in
            moments.add(scores, count * model.itemCount)
        }
        return moments.standardDeviation
    }
}

/// Users scored in chunks (score matrices within 64 MB): memory grows with a chunk, not
/// with users x items.
private func scoredChunk(items: Int) -> Int { Model.rowsPerPass(items: items, atMost: 256) }

/// `model`'s scores of `queries`, a chunk at a time, for `body` (offset of the chunk's
/// first query, its size, its size x n_items scores).
private func forEachScoredChunk(of queries: [Query], by model: Model,
                                _ body: (Int, Int, UnsafePointer<Float>) throws -> Void) throws {
    let (n, chunk) = (model.itemCount, scoredChunk(items: model.itemCount))
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: try checkedProduct([chunk, n], what: "validation scores"))
    defer { scores.deallocate() }
    for start in stride(from: 0, to: queries.count, by: chunk) {
        let count = min(chunk, queries.count - start)
        try model.scores(Array(queries[start ..< start + count]), into: UnsafeMutableBufferPointer(start: scores, count: count * n))
        try body(start, count, scores)
    }
}

/// An item-item prior as the trainer built it: its table and the parameter chosen for it.
enum BuiltPrior {
    case ease(Matrix, lambda: Double)
    case knn(SparseRows, popularityExponent: Double)

    /// The priors `h` asks for: none, one, or (`auto` within the dense limit) both, for
    /// mixing to choose between on validation.
    static func all(for dataset: Dataset, _ h: Hyperparameters, notes: inout [String]) throws -> [BuiltPrior] {
        let n = dataset.itemCount
        let denseFits = n <= Hyperparameters.itemItemMaxItems
        var kinds: [Hyperparameters.ItemItemPrior]
        switch h.itemItemPrior {
        case .none: kinds = []
        case .auto: kinds = denseFits ? [.ease, .knn] : [.knn]
        case .ease: kinds = [.ease]
        case .knn: kinds = [.knn]
        }
        if kinds == [.ease] && !denseFits {
            notes.append("EASE needs \(n)^2 floats: the prior is kNN instead (above \(Hyperparameters.itemItemMaxItems) items)")
            kinds = [.knn]
        }
        return try kinds.map { kind in
            switch kind {
            case .ease where h.chooseEaseLambda:
                let (table, lambda) = try EASE.chosen(dataset, around: h.easeLambda)
                return .ease(table, lambda: lambda)
            case .ease:
                return .ease(try EASE.itemItem(dataset.train, items: n, lambda: h.easeLambda), lambda: h.easeLambda)
            case _ where h.chooseKnnPopularityExponent:
                let (table, beta) = ItemKNN.chosen(dataset, neighbours: h.itemItemNeighbours, threads: Threads.defaultCount)
                return .knn(table, popularityExponent: beta)
            default:
                return .knn(ItemKNN.itemItem(dataset.train, items: n, neighbours: h.itemItemNeighbours,
                                             popularityExponent: h.knnPopularityExponent, threads: Threads.defaultCount),
                            popularityExponent: h.knnPopularityExponent)
            }
        }
    }

    /// `scores += row `item` of the prior` (n items).
    func addRow(_ item: Int, to scores: UnsafeMutablePointer<Float>, items n: Int) {
        switch self {
        case .ease(let table, _):
            table.values.withUnsafeBufferPointer { BLAS.axpy(1, $0.baseAddress! + item * n, scores, count: n) }
        case .knn(let table, _):
            table.addRow(item, to: scores, columns: 0 ..< n)
        }
    }

    /// Validation Recall@20 of this prior alone (training items masked): what EASE's lambda
    /// and kNN's beta are chosen on.
    func recallAlone(on validation: HeldOutSplit) -> Double {
        let train = validation.dataset.train
        let n = validation.dataset.itemCount
        var scores = [Float](repeating: 0, count: n)
        let rankings = validation.users.map { u -> [Int64] in
            scores.withUnsafeMutableBufferPointer { scores in
                scores.update(repeating: 0)
                for item in train.row(u) { addRow(Int(item), to: scores.baseAddress!, items: n) }
                return topK(scores.baseAddress!, count: n, k: 20, skipping: Array(train.row(u))).map { Int64($0.row) }
            }
        }
        return validation.metrics(rankings).recall20
    }

    /// `parameters` serving this prior, the file recording how it was made.
    func installed(in parameters: ModelParameters) -> ModelParameters {
        var result = parameters
        switch self {
        case .ease(let table, let lambda):
            (result.itemItem, result.itemItemSparse) = (table, nil)
            result.hyperparameters.itemItemPrior = .ease
            result.hyperparameters.easeLambda = lambda
        case .knn(let table, let beta):
            (result.itemItem, result.itemItemSparse) = (nil, table)
            result.hyperparameters.itemItemPrior = .knn
            result.hyperparameters.knnPopularityExponent = beta
        }
        return result
    }

    var description: String {
        switch self {
        case .ease(_, let lambda): "EASE (lambda \(lambda))"
        case .knn(_, let beta): "kNN (beta \(beta))"
        }
    }
}

/// Mean and variance of a stream of floats, summed in double.
private struct Moments {
    var count = 0.0, sum = 0.0, squares = 0.0

    mutating func add(_ values: UnsafePointer<Float>, _ n: Int) {
        for i in 0 ..< n {
            let x = Double(values[i])
            sum += x
            squares += x * x
        }
        count += Double(n)
    }

    var standardDeviation: Double {
        guard count > 0 else { return 1 }
        let mean = sum / count
        return max(0, squares / count - mean * mean).squareRoot()
    }
}
