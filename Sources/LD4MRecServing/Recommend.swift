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
    /// Item rows this query never recommends besides its history's (sorted, unique).
    var excludedRows: [Int32] = []

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

    /// The same query, never recommending `ids` either (in top-K; scores are unchanged).
    public func excluding(_ ids: some Sequence<Int64>, from query: Query) -> Query {
        var result = query
        result.excludedRows = query.excludedRows.sortedUnion(catalogue.resolveSet(ids).rows)
        return result
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

    /// The k best items for each query. The hidden layers and full score vectors of a
    /// batch are computed with one matrix product per layer, on `options.threads` threads.
    public func recommend(_ queries: [Query], k: Int, options: RecommendOptions = RecommendOptions()) throws -> [[Recommendation]] {
        guard k >= 1 else { throw LD4MRecError.invalidArgument("k must be at least 1, got \(k)") }
        guard !queries.isEmpty else { return [] }
        let only = options.onlyItems.map { catalogue.resolveSet($0).rows }
        let excluded = catalogue.resolveSet(options.excludedItems).rows
        let n = itemCount
        /// The item rows a query may not recommend, sorted and unique (a merge of sorted
        /// lists: hashing a heavy user's history into a set cost more than its layers).
        func blocked(_ query: Query) -> [Int32] {
            let rows = excluded.sortedUnion(query.excludedRows)
            return options.excludeHistory ? rows.sortedUnion(query.request.items) : rows
        }
        let threads = Threads.resolve(options.threads)
        var results: [[Recommendation]] = []
        results.reserveCapacity(queries.count)
        for start in stride(from: 0, to: queries.count, by: requestsPerPass) {
            let chunkQueries = Array(queries[start ..< min(start + requestsPerPass, queries.count)])
            let requests = chunkQueries.map(\.request)
            // Members write their users' lists through one buffer: assigning elements of a
            // captured array from several threads is an exclusivity violation.
            let chunkResults = UnsafeMutableBufferPointer<[ScoredItem]>.allocate(capacity: requests.count)
            chunkResults.initialize(repeating: [])
            defer {
                chunkResults.deinitialize()
                chunkResults.deallocate()
            }
            if let only {
                let candidates = chunkQueries.map { query in
                    let skip = blocked(query)
                    return only.filter { !skip.containsSorted($0) }
                }
                let offsets = candidates.reduce(into: [0]) { $0.append($0[$0.count - 1] + $1.count) }
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(1, offsets[offsets.count - 1]))
                defer { scores.deallocate() }
                let buffers = try ForwardBuffers(self, requests)
                ThreadPool.shared.run(threads: threads) { team in
                    hidden(requests, buffers, team)
                    for u in 0 ..< requests.count {
                        let share = team.share(of: candidates[u].count)
                        candidateScores(requests[u], user: u, buffers, rows: candidates[u][share], into: scores + offsets[u] + share.lowerBound)
                    }
                    team.barrier()
                    for u in team.share(of: requests.count) {
                        var selector = TopKSelector(k: min(k, candidates[u].count))
                        for (i, row) in candidates[u].enumerated() { selector.offer(row: row, score: scores[offsets[u] + i]) }
                        chunkResults[u] = selector.sorted()
                    }
                }
            } else {
                _ = try checkedProduct([requests.count, n], what: "score matrix")
                let skips = chunkQueries.map(blocked)
                if threads > 1, requests.count >= 2 * Self.usersPerMember {
                    // Each member runs its share of the users as a pass of its own: no
                    // member waits for another between layers. Past its pass's hidden
                    // layers, a member that is done takes over blocks and lists of the
                    // others' passes.
                    let slots = (0 ..< threads).map { _ in PassSlot() }
                    ThreadPool.shared.run(threads: threads) { team in
                        // Every member computes the same split, for the team it got.
                        let mine = balancedShares(requests, members: team.size)[team.rank]
                        let slot = slots[team.rank]
                        do {
                            if !mine.isEmpty {
                                slot.pass = try AllItemsPass(self, Array(requests[mine]), k: k, skips: Array(skips[mine]),
                                                             into: UnsafeMutableBufferPointer(rebasing: chunkResults[mine]))
                            }
                        } catch {
                            // The call throws the first member's error.
                            slot.failure = error as? LD4MRecError ?? LD4MRecError(.internalError, "\(error)")
                        }
                        slot.published.open()
                        slot.pass?.computeHidden(team: .alone)
                        var scratch = ListScratch(items: n, k: k)
                        for other in 0 ..< team.size {
                            let slot = slots[(team.rank + other) % team.size]
                            slot.published.wait()
                            slot.pass?.help(&scratch)
                        }
                    }
                    if let failure = slots.lazy.compactMap(\.failure).first { throw failure }
                } else {
                    let pass = try AllItemsPass(self, requests, k: k, skips: skips, into: chunkResults)
                    ThreadPool.shared.run(threads: threads) { team in
                        pass.computeHidden(team: team)
                        var scratch = ListScratch(items: n, k: k)
                        pass.help(&scratch)
                    }
                }
            }
            results += chunkResults.map { $0.map { Recommendation(itemID: catalogue.ids[Int($0.row)], score: $0.score) } }
        }
        return results
    }

    /// Below twice this many requests per thread, a pass's members split each layer's rows
    /// rather than the requests.
    static let usersPerMember = 64

    /// Consecutive shares of `requests`, one per member (empty when one user outweighs a
    /// share), of about equal work: a user costs the layers (about 0.75 d^2 floats' work,
    /// from timings on TikTok's shape) plus, per history item, its input row (d floats)
    /// and with the dense prior its prior row (n_items floats). Equal counts left a member
    /// with four times the other's history items on a batch of TikTok's heaviest users.
    func balancedShares(_ requests: [ScoringRequest], members: Int) -> [Range<Int>] {
        let d = hyperparameters.hiddenSize
        let perItem = d + (itemItem == nil ? 0 : itemCount)
        let perUser = max(1, 3 * d * d / 4 / perItem)  // in history items
        func work(_ u: Int) -> Int { perUser + requests[u].items.count }
        let total = requests.indices.reduce(0) { $0 + work($1) }
        var bounds = [0]
        var (u, done) = (0, 0)
        for share in 1 ..< max(1, members) {
            while u < requests.count, done * members < total * share {
                done += work(u)
                u += 1
            }
            bounds.append(u)
        }
        bounds.append(requests.count)
        return zip(bounds, bounds.dropFirst()).map { $0 ..< $1 }
    }

    /// Requests per forward pass: as many as keep the pass's score matrix within 64 MB
    /// (16 to 512): larger passes make the output layer's GEMM more efficient (a batch of
    /// 400 ran 9% faster as one pass than as 256 + 144 on TikTok's size), smaller ones
    /// bound the memory of very large catalogues.
    var requestsPerPass: Int { Self.rowsPerPass(items: itemCount, atMost: 512) }

    /// Rows of `items` scores that fit 64 MB, between 16 and `atMost`.
    package static func rowsPerPass(items: Int, atMost: Int) -> Int { max(16, min(atMost, (1 << 24) / max(1, items))) }

    // MARK: Scores

    /// Scores of the given candidate ids, in their order; unknown ids score -infinity.
    public func scores(_ query: Query, candidates: [Int64], threads: Int = 0) throws -> (scores: [Float], unknown: Int) {
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
        let buffers = try ForwardBuffers(self, [query.request])
        known.withUnsafeMutableBufferPointer { known in
            ThreadPool.shared.run(threads: Threads.resolve(threads)) { team in
                hidden([query.request], buffers, team)
                let share = team.share(of: rows.count)
                candidateScores(query.request, user: 0, buffers, rows: rows[share], into: known.baseAddress! + share.lowerBound)
            }
        }
        for (position, score) in zip(positions, known) { result[position] = score }
        return (result, candidates.count - rows.count)
    }

    /// Full score vectors of the queries, row-major (queries x n_items), into `out`.
    public func scores(_ queries: [Query], into out: UnsafeMutableBufferPointer<Float>, threads: Int = 0) throws {
        let needed = try checkedProduct([queries.count, itemCount], what: "score matrix")
        guard out.count >= needed else {
            throw LD4MRecError(.bufferTooSmall, "the score buffer holds \(out.count) floats, \(needed) are needed")
        }
        guard let base = out.baseAddress, !queries.isEmpty else { return }
        let n = itemCount
        for start in stride(from: 0, to: queries.count, by: requestsPerPass) {
            let requests = queries[start ..< min(start + requestsPerPass, queries.count)].map(\.request)
            let buffers = try ForwardBuffers(self, requests)
            ThreadPool.shared.run(threads: Threads.resolve(threads)) { team in
                hidden(requests, buffers, team)
                scores(requests, buffers, items: team.share(of: n, granule: InferenceTable.rowBlock), into: base + start * n)
            }
        }
    }

    /// The full score vector of one query, in the order of `catalogue.ids`.
    public func scores(_ query: Query, threads: Int = 0) throws -> [Float] {
        var result = [Float](repeating: 0, count: itemCount)
        try result.withUnsafeMutableBufferPointer { try scores([query], into: $0, threads: threads) }
        return result
    }
}

/// A top-K pass over every item for a batch: its buffers, and its work in three steps:
/// the hidden layers, on one team; then blocks of items' scores, then each request's
/// list, which any thread may take (`help`).
private final class AllItemsPass {
    let model: Model
    let requests: [ScoringRequest]
    let k: Int
    let skips: [[Int32]]
    let results: UnsafeMutableBufferPointer<[ScoredItem]>
    let buffers: ForwardBuffers
    /// Through the output screen (`Model.screens(batch:)`), or the float32 score matrix.
    let screened: ScreenedPass?
    let scores: AlignedBuffer<Float>?
    /// Blocks of `blockRows` item rows (fixed blocks, so the scores do not depend on who
    /// computes them), and the requests' lists.
    let blockRows: Int
    let blocks: SharedUnits
    let lists: SharedUnits
    /// Open once the hidden layers are done.
    let ready = Signal()

    init(_ model: Model, _ requests: [ScoringRequest], k: Int, skips: [[Int32]],
         into results: UnsafeMutableBufferPointer<[ScoredItem]>) throws {
        self.model = model
        self.requests = requests
        self.k = k
        self.skips = skips
        self.results = results
        buffers = try ForwardBuffers(model, requests)
        let rows: Int
        if model.screens(batch: requests.count), let screen = model.outputScreen {
            screened = try ScreenedPass(screen, batch: requests.count)
            scores = nil
            rows = screen.paddedRows
        } else {
            screened = nil
            scores = try AlignedBuffer(uninitialized: requests.count * model.itemCount)
            rows = model.itemCount
        }
        // A batch's blocks are large enough for the prior to stream its rows; one
        // request's are the product's own blocks, to spread a short pass evenly.
        blockRows = InferenceTable.rowBlock * (requests.count >= 32 ? 4 : 1)
        blocks = SharedUnits(count: (rows + blockRows - 1) / blockRows)
        lists = SharedUnits(count: requests.count)
    }

    /// The hidden layers, on `team` (every member calls this).
    func computeHidden(team: Team) {
        if let screened {
            model.screenHidden(requests, buffers, screened, team: team)
        } else {
            model.hidden(requests, buffers, team)
            team.barrier()
        }
        if team.rank == 0 { ready.open() }
    }

    /// Takes blocks of scores, then lists, until none is left (any thread, any time: it
    /// waits for the hidden layers and for the blocks that others are computing).
    func help(_ scratch: inout ListScratch) {
        ready.wait()
        let n = model.itemCount
        while let block = blocks.claim() {
            if let screened {
                let rows = block * blockRows ..< min(screened.screen.paddedRows, (block + 1) * blockRows)
                model.screenOutput(requests, buffers, screened, items: rows)
            } else if let scores {
                model.scores(requests, buffers, items: block * blockRows ..< min(n, (block + 1) * blockRows), into: scores.pointer)
            }
            blocks.finish()
        }
        blocks.waitForAll()
        while let u = lists.claim() {
            if let screened {
                results[u] = model.screenedList(user: u, buffers, screened, k: k, skipping: skips[u], scratch: &scratch)
            } else if let scores {
                results[u] = topK(scores.pointer + u * n, count: n, k: k, skipping: skips[u])
            }
        }
    }
}

/// Where a member of a batch split by users leaves its pass for the others to help with,
/// or its error.
private final class PassSlot: @unchecked Sendable {
    var pass: AllItemsPass?
    var failure: LD4MRecError?
    /// Open once `pass` and `failure` are set.
    let published = Signal()
}

/// The k best of `count` scores (ties: lower row first), leaving out the rows `skip`
/// (sorted). Scans once: after the first k candidates, a score enters only if it beats
/// the worst kept one.
package func topK(_ scores: UnsafePointer<Float>, count: Int, k: Int, skipping skip: [Int32]) -> [ScoredItem] {
    var selector = TopKSelector(k: min(k, count - skip.count))
    guard selector.k > 0 else { return [] }
    var threshold = -Float.infinity
    for i in 0 ..< count {
        let score = scores[i]
        guard selector.isFull ? score > threshold : true, !skip.containsSorted(Int32(i)) else { continue }
        selector.offer(row: Int32(i), score: score)
        if selector.isFull { threshold = selector.worstScore }
    }
    return selector.sorted()
}

extension Array where Element == Int32 {
    /// Binary search in a sorted array.
    package func containsSorted(_ value: Int32) -> Bool {
        var (low, high) = (0, count)
        while low < high {
            let mid = (low + high) / 2
            if self[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low < count && self[low] == value
    }
}
