import LD4MRecCore
import LD4MRecServing

extension Trainer {
    /// Mixes the item-item prior into a trained C-Net: scores become
    /// `w / sd_cnet * xhat0 + (1 - w) / sd_prior * x_in B`, the standard deviations taken
    /// over the validation users' score vectors, w fixed or chosen on validation
    /// Recall@20 from 0, 0.05, ..., 1.
    func withItemItemPrior(_ cnet: ModelParameters, cnetValidation: RankingMetrics) throws
        -> (ModelParameters, RankingMetrics) {
        guard let itemItem else { return (cnet.withoutItemItemPrior(), cnetValidation) }  // the file records what it holds
        let n = dataset.itemCount
        let validation = HeldOutSplit(dataset, .valid)
        let users = validation.users
        let model = try Model(cnet)
        var cnetScores = [Float](repeating: 0, count: try checkedProduct([users.count, n], what: "validation scores"))
        try cnetScores.withUnsafeMutableBufferPointer { try model.scores(validation.queries(model), into: $0) }
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
            let metrics = validation.metrics(rankings)
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
}
