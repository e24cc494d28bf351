import LD4MRecCore
import LD4MRecServing

extension Trainer {
    /// Mixes the item-item prior into a trained C-Net: scores become
    /// `w / sd_cnet * xhat0 + (1 - w) / sd_prior * x_in B`, the standard deviations taken
    /// over the validation users' score vectors, w fixed or chosen on validation
    /// Recall@20 from 0, 0.05, ..., 1. Validation users are scored in chunks, twice (the
    /// spreads, then the rankings): memory grows with a chunk, not with users x items.
    func withItemItemPrior(_ cnet: ModelParameters, cnetValidation: RankingMetrics) throws
        -> (ModelParameters, RankingMetrics) {
        guard itemItem != nil || itemItemSparse != nil else { return (cnet.withoutItemItemPrior(), cnetValidation) }
        let n = dataset.itemCount
        let validation = HeldOutSplit(dataset, .valid)
        let model = try Model(cnet)
        let queries = validation.queries(model)
        let chunk = Model.rowsPerPass(items: n, atMost: 256)  // score matrices within 64 MB each
        let cnetScores = UnsafeMutablePointer<Float>.allocate(capacity: try checkedProduct([chunk, n], what: "validation scores"))
        let priorScores = UnsafeMutablePointer<Float>.allocate(capacity: chunk * n)
        defer {
            cnetScores.deallocate()
            priorScores.deallocate()
        }
        /// Scores `body` gets for each chunk of validation users (offset of its first user).
        func forEachChunk(_ body: (Int, Int) -> Void) throws {
            for start in stride(from: 0, to: queries.count, by: chunk) {
                let count = min(chunk, queries.count - start)
                try model.scores(Array(queries[start ..< start + count]), into: UnsafeMutableBufferPointer(start: cnetScores, count: count * n))
                priorScores.update(repeating: 0, count: count * n)
                for r in 0 ..< count {
                    for item in dataset.train.row(validation.users[start + r]) {
                        addPriorRow(Int(item), to: priorScores + r * n)
                    }
                }
                body(start, count)
            }
        }
        var (cnetMoments, priorMoments) = (Moments(), Moments())
        try forEachChunk { _, count in
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
        try forEachChunk { start, count in
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
        var result = cnet
        (result.cnetScale, result.itemItemScale) = mixed(best.weight)
        (result.itemItem, result.itemItemSparse) = (itemItem, itemItemSparse)
        result.hyperparameters.itemItemPrior = priorKind
        result.hyperparameters.easeLambda = easeLambda
        result.hyperparameters.ensembleWeight = best.weight
        return (result, best.metrics)
    }
}

extension Trainer {
    /// `scores += row `item` of the prior`.
    func addPriorRow(_ item: Int, to scores: UnsafeMutablePointer<Float>) {
        let n = dataset.itemCount
        if let itemItem {
            itemItem.values.withUnsafeBufferPointer { BLAS.axpy(1, $0.baseAddress! + item * n, scores, count: n) }
        } else if let sparse = itemItemSparse {
            for e in sparse.offsets[item] ..< sparse.offsets[item + 1] { scores[Int(sparse.columns[e])] += sparse.values[e] }
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
