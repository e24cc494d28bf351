import Testing
@testable import LD4MRecCore
@testable import LD4MRecServing

/// The sorted lists a batch is built from: its histories by item and each user's rows
/// to skip, against definitions by sets and sorts.
@Suite struct SortedListTests {
    /// Sorted, unique histories of `users` users over `items` items, some empty.
    private func histories(users: Int, items: Int, length: Int, seed: UInt64) -> [[Int32]] {
        var rng = SeededGenerator(seed: seed)
        return (0 ..< users).map { _ in
            Set((0 ..< Int(rng.next() % UInt64(length + 1))).map { _ in Int32(rng.next() % UInt64(items)) }).sorted()
        }
    }

    /// ItemUsers by its definition: every (item, user) pair, sorted by item then user.
    private func expectMatchesDefinition(_ histories: [[Int32]]) {
        let byItem = ItemUsers(histories)
        let pairs = histories.enumerated().flatMap { u, h in h.map { ($0, Int32(u)) } }.sorted { $0 < $1 }
        var items: [Int32] = []
        for (item, _) in pairs where items.last != item { items.append(item) }
        #expect(byItem.batch == histories.count)
        #expect(byItem.items == items)
        #expect(byItem.users == pairs.map(\.1))
        #expect(byItem.offsets == [0] + items.map { item in pairs.count { $0.0 <= item } })
    }

    @Test func itemUsersCountsItemsOfADenseBatch() {
        expectMatchesDefinition(histories(users: 300, items: 500, length: 40, seed: 1))
    }

    @Test func itemUsersSortsAFewUsersOfAHugeCatalogue() {
        // The largest row far above 4 x the entries: the path that sorts.
        expectMatchesDefinition(histories(users: 3, items: 5_000_000, length: 20, seed: 2))
        expectMatchesDefinition([[7, 4_000_000]])
    }

    @Test func itemUsersOfEmptyHistories() {
        expectMatchesDefinition([])
        expectMatchesDefinition([[], []])
        expectMatchesDefinition([[], [3], []])
    }

    @Test func sortedUnionIsTheSetUnion() {
        var rng = SeededGenerator(seed: 3)
        for _ in 0 ..< 200 {
            let a = histories(users: 1, items: 50, length: Int(rng.next() % 30), seed: rng.next())[0]
            let b = histories(users: 1, items: 50, length: Int(rng.next() % 30), seed: rng.next())[0]
            #expect(a.sortedUnion(b) == Set(a).union(b).sorted())
        }
        #expect([Int32]().sortedUnion([]) == [])
        #expect([1, 5].sortedUnion([5]) == [1, 5])
    }
}
