import Testing
@testable import LD4MRecCore

@Suite struct TopKTests {
    @Test func selectsTheBestInOrderWithDeterministicTies() {
        let scores: [Float] = [0.5, 2, -1, 2, 7, 0.5, 3]
        var selector = TopKSelector(k: 4)
        for (i, s) in scores.enumerated() { selector.offer(row: Int32(i), score: s) }
        #expect(selector.sorted().map(\.row) == [4, 6, 1, 3])
    }

    @Test func matchesAFullSortOnRandomInput() {
        var rng = SeededGenerator(seed: 7)
        for k in [1, 5, 50, 200] {
            let scores = (0 ..< 200).map { _ in Float(rng.nextGaussian()) }
            var selector = TopKSelector(k: k)
            for (i, s) in scores.enumerated() { selector.offer(row: Int32(i), score: s) }
            let expected = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(k)
            #expect(selector.sorted().map { Int($0.row) } == Array(expected))
        }
    }
}
