import LD4MRecCore

/// A recommended item and its score.
public struct Recommendation: Equatable, Sendable {
    public let itemID: Int64
    public let score: Float

    public init(itemID: Int64, score: Float) {
        self.itemID = itemID
        self.score = score
    }
}

/// Options of the top-K functions.
public struct RecommendOptions: Sendable {
    /// Leave the history's own items out of the results.
    public var excludeHistory = true
    /// If set, recommend only among these item ids (unknown ids are ignored).
    public var onlyItems: [Int64]?
    /// Never recommend these item ids.
    public var excludedItems: [Int64] = []
    /// Threads the call may use; 0: the process default (`Threads`).
    public var threads = 0

    public init(excludeHistory: Bool = true, onlyItems: [Int64]? = nil, excludedItems: [Int64] = [], threads: Int = 0) {
        self.excludeHistory = excludeHistory
        self.onlyItems = onlyItems
        self.excludedItems = excludedItems
        self.threads = threads
    }
}

/// One user to score, resolved against a model's catalogue: the history's known items and
/// the user's initial-step embedding.
public struct Query: Sendable {
    let request: ScoringRequest
    /// History item ids that the model does not know (skipped).
    public let skippedItems: Int

    /// The number of known items in the history.
    public var historyCount: Int { request.items.count }
}

extension Model {
    // MARK: Queries

    /// A query for a history given by the caller. `user` selects the learned initial
    /// embedding; nil or an id unknown to the model uses z_in_default.
    public func query<S: Sequence<Int64>>(history: S, user: Int64? = nil) -> Query {
        let (rows, unknown) = catalogue.resolveSet(history)
        return Query(request: ScoringRequest(items: rows, userRow: userRow(of: user)), skippedItems: unknown)
    }

    /// A query for a user of a store; a user absent from the store has an empty history.
    /// Any model serves any store: the history's ids this model does not know are skipped
    /// and counted in `skippedItems` (and stay in the store).
    public func query(user: Int64, in store: HistoryStore) -> Query {
        query(history: store.history(of: user) ?? [], user: user)
    }

    // MARK: Top-K

    /// The k best items for one query, best first.
    public func recommend(_ query: Query, k: Int, options: RecommendOptions = RecommendOptions()) throws -> [Recommendation] {
        try recommend([query], k: k, options: options)[0]
    }

    /// Convenience: the k best items for a history.
    public func recommend(history: [Int64], user: Int64? = nil, k: Int,
                          options: RecommendOptions = RecommendOptions()) throws -> [Recommendation] {
        try recommend(query(history: history, user: user), k: k, options: options)
    }

    /// The k best items for each query; the hidden layers and full score vectors of the
    /// whole batch are computed with one matrix product per layer.
    public func recommend(_ queries: [Query], k: Int, options: RecommendOptions = RecommendOptions()) throws -> [[Recommendation]] {
        guard k >= 1 else { throw LD4MRecError.invalidArgument("k must be at least 1, got \(k)") }
        guard !queries.isEmpty else { return [] }
        let only = options.onlyItems.map { catalogue.resolveSet($0).rows }
        let excluded = catalogue.resolveSet(options.excludedItems).rows
        let requests = queries.map(\.request)
        let n = itemCount

        var results: [[Recommendation]] = []
        results.reserveCapacity(queries.count)
        var blocked = [Bool](repeating: false, count: n)
        func block(_ request: ScoringRequest, _ value: Bool) {
            if options.excludeHistory { for row in request.items { blocked[Int(row)] = value } }
            for row in excluded { blocked[Int(row)] = value }
        }

        if let only {
            let hidden = hiddenStates(requests)
            for (u, request) in requests.enumerated() {
                block(request, true)
                let candidates = only.filter { !blocked[Int($0)] }
                block(request, false)
                var scores = [Float](repeating: 0, count: candidates.count)
                hidden.values.withUnsafeBufferPointer { h in
                    scores.withUnsafeMutableBufferPointer {
                        scoreCandidates(hidden: h.baseAddress! + u * hiddenSize, request: request, rows: candidates,
                                        into: $0.baseAddress!)
                    }
                }
                var selector = TopKSelector(k: min(k, candidates.count))
                for (row, score) in zip(candidates, scores) { selector.offer(row: row, score: score) }
                results.append(selector.sorted().map { Recommendation(itemID: catalogue.ids[Int($0.row)], score: $0.score) })
            }
            return results
        }

        let chunk = 256
        var scores = [Float]()
        for start in stride(from: 0, to: requests.count, by: chunk) {
            let batch = Array(requests[start ..< min(start + chunk, requests.count)])
            scores = [Float](repeating: 0, count: try checkedProduct([batch.count, n], what: "score matrix"))
            scores.withUnsafeMutableBufferPointer { scoreAll(batch, into: $0) }
            for (u, request) in batch.enumerated() {
                block(request, true)
                let candidateCount = n - blocked.lazy.filter { $0 }.count
                var selector = TopKSelector(k: min(k, candidateCount))
                scores.withUnsafeBufferPointer { s in
                    let row = s.baseAddress! + u * n
                    for i in 0 ..< n where !blocked[i] { selector.offer(row: Int32(i), score: row[i]) }
                }
                block(request, false)
                results.append(selector.sorted().map { Recommendation(itemID: catalogue.ids[Int($0.row)], score: $0.score) })
            }
        }
        return results
    }

    // MARK: Scores

    /// Scores of the given candidate ids, in their order; unknown ids score -infinity.
    public func scores(_ query: Query, candidates: [Int64]) -> (scores: [Float], unknown: Int) {
        var rows: [Int32] = []
        var positions: [Int] = []
        rows.reserveCapacity(candidates.count)
        for (i, id) in candidates.enumerated() {
            if let row = catalogue.row(of: id) {
                rows.append(row)
                positions.append(i)
            }
        }
        var result = [Float](repeating: -.infinity, count: candidates.count)
        guard !rows.isEmpty else { return (result, candidates.count) }
        var known = [Float](repeating: 0, count: rows.count)
        let hidden = hiddenStates([query.request])
        hidden.values.withUnsafeBufferPointer { h in
            known.withUnsafeMutableBufferPointer {
                scoreCandidates(hidden: h.baseAddress!, request: query.request, rows: rows, into: $0.baseAddress!)
            }
        }
        for (position, score) in zip(positions, known) { result[position] = score }
        return (result, candidates.count - rows.count)
    }

    /// Full score vectors of the queries, row-major (queries x n_items), into `out`.
    public func scores(_ queries: [Query], into out: UnsafeMutableBufferPointer<Float>) throws {
        let needed = try checkedProduct([queries.count, itemCount], what: "score matrix")
        guard out.count >= needed else {
            throw LD4MRecError(.bufferTooSmall, "the score buffer holds \(out.count) floats, \(needed) are needed")
        }
        guard !queries.isEmpty else { return }
        scoreAll(queries.map(\.request), into: out)
    }

    /// The full score vector of one query, in the order of `catalogue.ids`.
    public func scores(_ query: Query) -> [Float] {
        var result = [Float](repeating: 0, count: itemCount)
        result.withUnsafeMutableBufferPointer { scoreAll([query.request], into: $0) }
        return result
    }
}
