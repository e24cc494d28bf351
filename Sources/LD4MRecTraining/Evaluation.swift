#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore
import LD4MRecServing

/// Ranking metrics of MODEL.md's protocol: all-ranking, the user's training items masked,
/// Recall@K = hits / #held-out items, NDCG@K = DCG / IDCG with IDCG over min(#held-out, K)
/// positions, averaged over users with at least one held-out item.
public struct RankingMetrics: Sendable, Equatable {
    public var recall10 = 0.0
    public var recall20 = 0.0
    public var ndcg10 = 0.0
    public var ndcg20 = 0.0
    public var users = 0

    public init(recall10: Double = 0, recall20: Double = 0, ndcg10: Double = 0, ndcg20: Double = 0, users: Int = 0) {
        self.recall10 = recall10
        self.recall20 = recall20
        self.ndcg10 = ndcg10
        self.ndcg20 = ndcg20
        self.users = users
    }

    /// Metrics of each user's ranked list (best first, at least 20 long where possible)
    /// against their held-out items.
    public static func compute(_ users: [(ranking: [Int64], heldOut: Set<Int64>)]) -> RankingMetrics {
        var metrics = RankingMetrics()
        for (ranking, truth) in users where !truth.isEmpty {
            metrics.users += 1
            for (k, recall, ndcg) in [(10, \RankingMetrics.recall10, \RankingMetrics.ndcg10),
                                      (20, \RankingMetrics.recall20, \RankingMetrics.ndcg20)] {
                var hits = 0
                var dcg = 0.0
                for (rank, item) in ranking.prefix(k).enumerated() where truth.contains(item) {
                    hits += 1
                    dcg += 1 / log2(Double(rank) + 2)
                }
                let idcg = (0 ..< min(truth.count, k)).reduce(0.0) { $0 + 1 / log2(Double($1) + 2) }
                metrics[keyPath: recall] += Double(hits) / Double(truth.count)
                metrics[keyPath: ndcg] += dcg / idcg
            }
        }
        if metrics.users > 0 {
            let n = Double(metrics.users)
            metrics.recall10 /= n
            metrics.recall20 /= n
            metrics.ndcg10 /= n
            metrics.ndcg20 /= n
        }
        return metrics
    }
}

/// The users of a held-out split (those with at least one held-out item), their training
/// histories and held-out items: what every all-ranking evaluation starts from.
struct HeldOutSplit {
    let dataset: Dataset
    /// User rows, ascending.
    let users: [Int]
    let heldOut: [Set<Int64>]

    init(_ dataset: Dataset, _ split: Dataset.Split) {
        let rows = dataset.interactions(split)
        self.dataset = dataset
        users = (0 ..< dataset.userCount).filter { !rows.row($0).isEmpty }
        heldOut = users.map { Set(rows.row($0).map { Int64($0) }) }
    }

    private init(_ dataset: Dataset, users: [Int], heldOut: [Set<Int64>]) {
        (self.dataset, self.users, self.heldOut) = (dataset, users, heldOut)
    }

    /// Every s-th user, s the smallest stride leaving at most `count` (all of them when
    /// there are no more).
    func sample(atMost count: Int) -> HeldOutSplit {
        let stride = max(1, (users.count + count - 1) / max(1, count))
        let picked = Swift.stride(from: 0, to: users.count, by: stride)
        return HeldOutSplit(dataset, users: picked.map { users[$0] }, heldOut: picked.map { heldOut[$0] })
    }

    /// Each user's training history, as the model's queries (ids are rows). With
    /// `maskingValidation`, the user's validation items are never recommended either
    /// (DiffRec's protocol for the test split).
    func queries(_ model: Model, maskingValidation: Bool = false) -> [Query] {
        users.map { u in
            let query = model.query(history: dataset.train.row(u).map { Int64($0) }, user: Int64(u))
            return maskingValidation ? model.excluding(dataset.validation.row(u).map { Int64($0) }, from: query) : query
        }
    }

    /// Metrics of one ranking per user (in `users` order, best first, training items
    /// already left out).
    func metrics(_ rankings: [[Int64]]) -> RankingMetrics {
        RankingMetrics.compute(Array(zip(rankings, heldOut)))
    }
}

public enum Evaluation {
    /// Evaluates a model on a split of a dataset whose user and item ids are the model's:
    /// each user's training items are the history and are masked from the ranking.
    /// `maskValidation` also masks each user's validation items (DiffRec's protocol, for the
    /// test split; MODEL.md's protocol masks training items only).
    public static func evaluate(_ model: Model, on dataset: Dataset, split: Dataset.Split,
                                maskValidation: Bool = false) throws -> RankingMetrics {
        let heldOut = HeldOutSplit(dataset, split)
        let queries = heldOut.queries(model, maskingValidation: maskValidation)
        var rankings: [[Int64]] = []
        rankings.reserveCapacity(queries.count)
        for start in stride(from: 0, to: queries.count, by: 512) {
            let chunk = Array(queries[start ..< min(start + 512, queries.count)])
            rankings += try model.recommend(chunk, k: 20).map { $0.map(\.itemID) }
        }
        return heldOut.metrics(rankings)
    }

    /// The popularity baseline: items ranked by training degree, training items masked
    /// (and validation items, with `maskValidation`).
    public static func popularity(on dataset: Dataset, split: Dataset.Split, maskValidation: Bool = false) -> RankingMetrics {
        var degree = [Int](repeating: 0, count: dataset.itemCount)
        for item in dataset.train.items { degree[Int(item)] += 1 }
        let order = degree.indices.sorted { degree[$0] > degree[$1] || (degree[$0] == degree[$1] && $0 < $1) }
        let heldOut = HeldOutSplit(dataset, split)
        return heldOut.metrics(heldOut.users.map { u in
            var train = Set(dataset.train.row(u))
            if maskValidation { train.formUnion(dataset.validation.row(u)) }
            return Array(order.lazy.filter { !train.contains(Int32($0)) }.prefix(20).map { Int64($0) })
        })
    }
}
