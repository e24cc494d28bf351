import CLD4MRecKernels
import Testing
@testable import LD4MRecCore
@testable import LD4MRecServing
#if canImport(Glibc)
import Glibc
#endif

/// A deliberately naive, dense, double-precision reading of docs/MODEL.md's forward pass,
/// written from the spec rather than from the serving code.
func referenceScores(_ p: ModelParameters, history: [Int], userRow: Int?) -> [Double] {
    let h = p.hyperparameters
    let n = p.itemCount, k = h.svdRank, slope = h.leakyReluSlope
    func linear(_ layer: DenseLayer, _ x: [Double]) -> [Double] {
        (0 ..< layer.outputSize).map { r in
            (0 ..< layer.inputSize).reduce(Double(layer.bias[r])) { $0 + Double(layer.weight[r, $1]) * x[$1] }
        }
    }
    func leaky(_ x: [Double]) -> [Double] { x.map { $0 < 0 ? $0 * slope : $0 } }
    let items = Array(Set(history)).sorted()
    var x = [Double](repeating: 0, count: n)
    for i in items { x[i] = 1 }
    let degU = Double(items.count)
    var c = [Double](repeating: 0, count: 2 * k)
    for i in items {
        for j in 0 ..< k {
            c[j] += Double(p.svdItemFactors[i, j]) / Double(p.svdSingularValues[j])
            if p.itemDegrees[i] > 0 { c[k + j] += Double(p.svdItemFactors[i, j]) / (degU * Double(p.itemDegrees[i])).squareRoot() }
        }
    }
    let prefs: [[Double]] = p.modalities.map { modality in
        var v = [Double](repeating: 0, count: modality.features.cols)
        for i in items where p.itemDegrees[i] > 0 {
            for j in v.indices { v[j] += Double(modality.features[i, j]) / (degU * Double(p.itemDegrees[i])).squareRoot() }
        }
        return v
    }
    let zRow: [Float] = userRow.map { p.zIn.row($0) } ?? p.zInDefault
    let z: [Double] = zRow.map { Double($0) }
    var hidden = linear(p.input, x)
    for (s, block) in p.blocks.enumerated() {
        let a = linear(block.hidden, hidden + z).map(tanh)
        let cg = linear(block.condition, c).map(tanh)
        let g: [Double] = linear(block.gate, z).map { 1 / (1 + exp(-$0)) }
        hidden = (0 ..< hidden.count).map { (i: Int) -> Double in a[i] * (1 - g[i]) + cg[i] * g[i] }
        for m in p.modalities.indices {
            let scale = linear(block.filmScale[m].fc2, leaky(linear(block.filmScale[m].fc1, prefs[m])))
            let shift = linear(block.filmShift[m].fc2, leaky(linear(block.filmShift[m].fc1, prefs[m])))
            hidden = (0 ..< hidden.count).map { (i: Int) -> Double in scale[i] * hidden[i] + shift[i] }
            if m < p.modalities.count - 1 { hidden = leaky(hidden) }
        }
        if s < p.blocks.count - 1 { hidden = leaky(hidden) }
    }
    let xhat0 = linear(p.output, hidden)
    var prior = [Double](repeating: 0, count: n)  // sum over the history of B's rows
    for i in items {
        if let dense = p.itemItem { for j in 0 ..< n { prior[j] += Double(dense[i, j]) } }
        if let sparse = p.itemItemSparse {
            for e in sparse.offsets[i] ..< sparse.offsets[i + 1] { prior[Int(sparse.columns[e])] += Double(sparse.values[e]) }
        }
    }
    return (0 ..< n).map { Double(p.cnetScale) * xhat0[$0] + Double(p.itemItemScale) * prior[$0] }
}

@Suite struct ScoringTests {
    @Test(arguments: [[("image", 6), ("audio", 4)], [], [("text", 3)]], [1, 2, 3])
    func fullScoresMatchTheNaiveReference(modalities: [(String, Int)], blocks: Int) throws {
        var spec = smallSpec(modalities: modalities, blocks: blocks)
        spec.itemItemPrior = blocks != 3  // with and without the item-item prior, dense or sparse
        spec.sparsePrior = blocks == 2
        let parameters = try ModelParameters.synthetic(spec)
        let model = try Model(parameters)
        let cold = parameters.itemDegrees.firstIndex(of: 0)!
        let cases: [(history: [Int], user: Int?)] = [([0, 3, 7], 2), ([], nil), ([5, cold], nil), ([1, 1, 2, cold], 0), ([39], 11)]
        for (history, user) in cases {
            let query = model.query(history: history.map { parameters.itemIDs[$0] }, user: user.map { parameters.userIDs[$0] })
            let scores = try model.scores(query)
            let expected = referenceScores(parameters, history: history, userRow: user)
            let diff = zip(scores, expected).map { abs(Double($0) - $1) }.max()!
            #expect(diff < 1e-4, "history \(history), user \(String(describing: user)): max diff \(diff)")
        }
    }

    @Test func candidateAndBatchScoresAgreeWithFullScores() throws {
        let model = try smallModel()
        let store = HistoryStore(model: model, trainingHistories: true)
        let users = Array(model.userIDs.prefix(5)) + [999_999]
        let queries = users.map { model.query(user: $0, in: store) }
        var batch = [Float](repeating: 0, count: users.count * model.itemCount)
        try batch.withUnsafeMutableBufferPointer { try model.scores(queries, into: $0) }
        let candidates: [Int64] = [model.catalogue.ids[3], 12345, model.catalogue.ids[0], model.catalogue.ids[39]]
        for (u, query) in queries.enumerated() {
            let full = try model.scores(query)
            // Batched GEMMs block differently: equal up to float rounding.
            let row = batch[u * model.itemCount ..< (u + 1) * model.itemCount]
            #expect(zip(row, full).allSatisfy { abs($0 - $1) < 1e-5 })
            let (scores, unknown) = try model.scores(query, candidates: candidates)
            #expect(unknown == 1)
            #expect(scores[1] == -.infinity)
            for (i, c) in [(0, 3), (2, 0), (3, 39)] { #expect(abs(scores[i] - full[c]) < 1e-5) }
        }
    }

    @Test func batchesOfSeveralPassesMatchSingleQueries() throws {
        let model = try smallModel()
        let ids = model.catalogue.ids
        let count = model.requestsPerPass + 37  // one full pass and a partial one
        var rng = SeededGenerator(seed: 5)
        let queries = (0 ..< count).map { _ in
            model.query(history: (0 ..< 3).map { _ in ids[Int(rng.next() % UInt64(ids.count))] })
        }
        let batch = try model.recommend(queries, k: 7)
        #expect(batch.count == count)
        for (query, list) in zip(queries, batch) {
            let alone = try model.recommend(query, k: 7)
            #expect(list.map(\.itemID) == alone.map(\.itemID))
            #expect(zip(list, alone).allSatisfy { abs($0.score - $1.score) < 1e-5 })
        }
        var scores = [Float](repeating: 0, count: count * model.itemCount)
        try scores.withUnsafeMutableBufferPointer { try model.scores(queries, into: $0) }
        let last = try model.scores(queries[count - 1])
        #expect(zip(scores[(count - 1) * model.itemCount ..< count * model.itemCount], last).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    /// A batch split by users gives each member consecutive users of about equal work
    /// (history items weigh in, not only the count).
    @Test func userSharesBalanceHistoryLengths() throws {
        let model = try smallModel()
        let heavy = (0 ..< 30).map { _ in ScoringRequest(items: (0 ..< 40).map { Int32($0) }, userRow: nil) }
        let light = (0 ..< 170).map { _ in ScoringRequest(items: [1], userRow: nil) }
        for members in [1, 2, 3, 8] {
            let shares = model.balancedShares(heavy + light, members: members)
            #expect(shares.count == members)
            #expect(shares.first?.lowerBound == 0 && shares.last?.upperBound == 200)
            #expect(zip(shares, shares.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            #expect(shares.allSatisfy { !$0.isEmpty })
        }
        // Two members: the heavy users' share holds fewer of them than a count split would.
        let two = model.balancedShares(heavy + light, members: 2)
        #expect(two[0].count < 100)
        let tiny = model.balancedShares(Array(light.prefix(3)), members: 3)
        #expect(tiny == [0 ..< 1, 1 ..< 2, 2 ..< 3])
        // More members than users: some shares are empty, none is lost.
        let many = model.balancedShares(Array(light.prefix(3)), members: 5)
        #expect(many.count == 5 && many.reduce(0) { $0 + $1.count } == 3)
    }

    /// The bf16 screen changes no list: the screened top-K lists and their scores are the
    /// float32 pass's, for one request and for batches (AMX tiles where the CPU has them),
    /// with the dense and the sparse prior, excluded items and k beyond the catalogue.
    @Test(arguments: [(1, false), (7, false), (40, true), (600, false)])
    func screenedListsAreTheFloat32Lists(batch: Int, sparse: Bool) throws {
        var spec = smallSpec(seed: 5)
        (spec.items, spec.users) = (700, 50)
        spec.hyperparameters.hiddenSize = 96
        spec.hyperparameters.svdRank = 8
        (spec.itemItemPrior, spec.sparsePrior) = (!sparse, sparse)
        let parameters = try ModelParameters.synthetic(spec)
        let plain = try Model(parameters, screening: false)
        let screened = try Model(parameters)
        #expect(!plain.screensTopK)
        #expect(screened.screensTopK == (ld4mrk_has_avx512bf16() != 0))
        let ids = plain.catalogue.ids
        var rng = SeededGenerator(seed: 7)
        let queries = (0 ..< batch).map { u in
            plain.query(history: (0 ..< 1 + u % 9).map { _ in ids[Int(rng.next() % UInt64(ids.count))] }, user: plain.userIDs[u % 50])
        }
        for (k, options) in [(20, RecommendOptions()), (3, RecommendOptions(excludedItems: Array(ids[0 ..< 200]), threads: 1)),
                             (800, RecommendOptions(excludeHistory: false))] {
            let expected = try plain.recommend(queries, k: k, options: options)
            let lists = try screened.recommend(queries, k: k, options: options)
            for (list, reference) in zip(lists, expected) {
                #expect(list.count == reference.count)
                for (i, (item, wanted)) in zip(list, reference).enumerated() {
                    let tolerance = 1e-5 * max(1, abs(wanted.score))
                    #expect(abs(item.score - wanted.score) <= tolerance, "k \(k) rank \(i)")
                    // Items may swap only where the float32 scores tie within rounding.
                    if item.itemID != wanted.itemID {
                        let neighbours = [i - 1, i + 1].filter { reference.indices.contains($0) }.map { reference[$0].score }
                        #expect(neighbours.contains { abs($0 - wanted.score) <= 2 * tolerance }, "k \(k) rank \(i)")
                    }
                }
            }
        }
    }

    /// A batch's lists are the same to the last bit whoever computes them: one thread, a
    /// team that splits each layer's rows (small batches), or one that splits the users
    /// and takes over each other's blocks and lists.
    @Test(arguments: [(300, false), (300, true), (20, false), (20, true)])
    func batchListsDoNotDependOnTheTeam(batch: Int, screening: Bool) throws {
        var spec = smallSpec(seed: 9)
        (spec.items, spec.users) = (1500, 300)
        spec.hyperparameters.hiddenSize = 600  // three blocks of rows: teams split them unevenly
        let model = try Model(try ModelParameters.synthetic(spec), screening: screening)
        let ids = model.catalogue.ids
        var rng = SeededGenerator(seed: 11)
        let queries = (0 ..< batch).map { u in
            model.query(history: (0 ..< 1 + u % 23).map { _ in ids[Int(rng.next() % UInt64(ids.count))] }, user: model.userIDs[u])
        }
        let alone = try model.recommend(queries, k: 30, options: RecommendOptions(threads: 1))
        var scores = [Float](repeating: 0, count: batch * ids.count)
        try scores.withUnsafeMutableBufferPointer { try model.scores(queries, into: $0, threads: 1) }
        for threads in [2, 3, 8] {
            for _ in 0 ..< 3 {
                let lists = try model.recommend(queries, k: 30, options: RecommendOptions(threads: threads))
                #expect(lists.map { $0.map(\.itemID) } == alone.map { $0.map(\.itemID) })
                #expect(lists.map { $0.map(\.score) } == alone.map { $0.map(\.score) })
            }
            var again = [Float](repeating: 0, count: batch * ids.count)
            try again.withUnsafeMutableBufferPointer { try model.scores(queries, into: $0, threads: threads) }
            #expect(again == scores)
        }
    }

    @Test func historyOrderAndDuplicatesDoNotMatter() throws {
        let model = try smallModel()
        let ids = model.catalogue.ids
        let a = try model.scores(model.query(history: [ids[4], ids[9], ids[2]]))
        let b = try model.scores(model.query(history: [ids[2], ids[4], ids[9], ids[4], 77]))
        #expect(a == b)
        #expect(model.query(history: [ids[2], 77, 78]).skippedItems == 2)
    }

    @Test func recommendHonoursOptions() throws {
        let model = try smallModel()
        let ids = model.catalogue.ids
        let history = [ids[1], ids[2], ids[3]]
        let query = model.query(history: history)
        let full = try model.scores(query)
        let ranked = full.indices.sorted { full[$0] > full[$1] }.map { ids[$0] }

        let top = try model.recommend(query, k: 5)
        #expect(top.map(\.itemID) == Array(ranked.filter { !history.contains($0) }.prefix(5)))

        let withHistory = try model.recommend(query, k: 5, options: RecommendOptions(excludeHistory: false))
        #expect(withHistory.map(\.itemID) == Array(ranked.prefix(5)))

        let only = [ids[1], ids[10], ids[20], ids[30], 4242]
        let restricted = try model.recommend(query, k: 10, options: RecommendOptions(onlyItems: only, excludedItems: [ids[20]]))
        #expect(restricted.map(\.itemID) == ranked.filter { [ids[10], ids[30]].contains($0) })

        let masked = model.excluding([ranked[0], ranked[3], 4242], from: query)
        #expect(try model.recommend(masked, k: 5).map(\.itemID) == Array(ranked.filter { !history.contains($0) && $0 != ranked[0] && $0 != ranked[3] }.prefix(5)))
        #expect(try model.scores(masked) == full)

        let all = try model.recommend(query, k: Int(Int32.max))
        #expect(all.count == model.itemCount - 3)
        expectError(.invalidArgument, containing: "k must be at least 1") { _ = try model.recommend(query, k: 0) }
    }

    @Test func unknownUsersUseTheDefaultEmbedding() throws {
        let parameters = try ModelParameters.synthetic(smallSpec())
        let model = try Model(parameters)
        let history = [parameters.itemIDs[1]]
        let anonymous = try model.scores(model.query(history: history))
        let unknown = try model.scores(model.query(history: history, user: -5))
        let known = try model.scores(model.query(history: history, user: parameters.userIDs[0]))
        #expect(anonymous == unknown)
        #expect(anonymous != known)
    }
}
