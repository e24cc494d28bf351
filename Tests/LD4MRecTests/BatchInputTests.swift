import Testing
@testable import LD4MRecCore
@testable import LD4MRecServing

/// What a batch is built from: the catalogue's rows of ids, the histories by item and
/// each user's rows to skip, against definitions by dictionaries, sets and sorts.
@Suite struct BatchInputTests {
    @Test func catalogueRowsAreTheDictionarys() {
        var rng = SeededGenerator(seed: 4)
        for count in [0, 1, 12, 13, 1000, 50_000] {
            // Sequential, random and extreme ids, and a few repeated (the last row wins).
            var ids = (0 ..< count).map { i in i % 3 == 0 ? Int64(i) : Int64(bitPattern: rng.next()) }
            if count > 2 { ids[count - 1] = ids[0]; ids[1] = .min; ids[2] = .max }
            let catalogue = ItemCatalogue(ids: ids)
            let expected = Dictionary(ids.enumerated().map { ($1, Int32($0)) }) { $1 }
            for id in ids { #expect(catalogue.row(of: id) == expected[id]) }
            for _ in 0 ..< 1000 {
                let id = Int64(bitPattern: rng.next())
                #expect(catalogue.row(of: id) == expected[id])
            }
            #expect(catalogue.row(of: Int64(count) + 1) == expected[Int64(count) + 1])
        }
    }

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
