import Testing
@testable import LD4MRecCore
@testable import LD4MRecServing
@testable import LD4MRecStorage
@testable import LD4MRecTraining

@Suite struct AveragedCNetTests {
    /// Members as the trainer makes them: the same frozen signals, their own weights, no prior.
    static func members(_ count: Int, modalities: [(String, Int)] = [("image", 6), ("audio", 4)], blocks: Int = 2) throws
        -> [ModelParameters] {
        var spec = smallSpec(seed: 3, modalities: modalities, blocks: blocks)
        spec.itemItemPrior = false
        let first = try ModelParameters.synthetic(spec)
        return try (0 ..< count).map { j in
            guard j > 0 else { return first }
            spec.seed = 3 + UInt64(j)
            var member = try ModelParameters.synthetic(spec)
            (member.itemIDs, member.userIDs, member.histories) = (first.itemIDs, first.userIDs, first.histories)
            (member.svdItemFactors, member.svdSingularValues) = (first.svdItemFactors, first.svdSingularValues)
            (member.itemDegrees, member.modalities) = (first.itemDegrees, first.modalities)
            return member
        }
    }

    /// The wide C-Net scores, for any history and user, the weighted sum of the members'
    /// scores by the naive reference of each member.
    @Test(arguments: [[("image", 6), ("audio", 4)], [], [("text", 3)]], [1, 2, 3])
    func scoresTheWeightedSumOfItsMembers(modalities: [(String, Int)], count: Int) throws {
        let members = try Self.members(count, modalities: modalities, blocks: count == 3 ? 3 : 2)
        let weights: [Float] = [0.7, 0.2, 1.3].prefix(count).map { $0 }
        let averaged = try ModelParameters.averaging(members, weights: weights)
        let h = averaged.hyperparameters
        let one = members[0].hyperparameters
        #expect((h.hiddenSize, h.stepEmbeddingSize, h.filmHiddenSize, h.cnets)
            == (count * one.hiddenSize, count * one.stepEmbeddingSize, count * one.filmHiddenSize, count))
        try averaged.validate()
        let model = try Model(averaged)
        let cold = averaged.itemDegrees.firstIndex(of: 0)!
        let cases: [(history: [Int], user: Int?)] = [([0, 3, 7], 2), ([], nil), ([5, cold], nil), ([1, 2, cold], 0), ([39], 11)]
        var queries: [Query] = []
        for (history, user) in cases {
            let query = model.query(history: history.map { averaged.itemIDs[$0] }, user: user.map { averaged.userIDs[$0] })
            queries.append(query)
            let scores = try model.scores(query)
            var expected = [Double](repeating: 0, count: averaged.itemCount)
            for (member, weight) in zip(members, weights) {
                for (i, s) in referenceScores(member, history: history, userRow: user).enumerated() { expected[i] += Double(weight) * s }
            }
            let diff = zip(scores, expected).map { abs(Double($0) - $1) }.max()!
            #expect(diff < 1e-4, "history \(history), user \(String(describing: user)): max diff \(diff)")
        }
        // The batch path (one GEMM per layer) too.
        var batch = [Float](repeating: 0, count: queries.count * averaged.itemCount)
        try batch.withUnsafeMutableBufferPointer { try model.scores(queries, into: $0) }
        for (q, query) in queries.enumerated() {
            let single = try model.scores(query)
            #expect(zip(batch[q * averaged.itemCount ..< (q + 1) * averaged.itemCount], single).allSatisfy { abs($0 - $1) < 1e-4 })
        }
    }

    @Test func refusesMembersThatDoNotShareTheirSignalsOrHoldAPrior() throws {
        var members = try Self.members(2)
        let spec = smallSpec(seed: 9)
        var stranger = try ModelParameters.synthetic(spec)
        expectError(.invalidArgument, containing: "share their architecture and frozen signals") {
            stranger.svdSingularValues[0] += 1
            _ = try ModelParameters.averaging([members[0], stranger], weights: [1, 1])
        }
        expectError(.invalidArgument, containing: "one weight per member") {
            _ = try ModelParameters.averaging(members, weights: [1])
        }
        members[1].itemItemSparse = try ModelParameters.synthetic({ var s = spec; s.sparsePrior = true; return s }()).itemItemSparse
        expectError(.invalidArgument, containing: "after averaging") {
            _ = try ModelParameters.averaging(members, weights: [1, 1])
        }
    }
}
