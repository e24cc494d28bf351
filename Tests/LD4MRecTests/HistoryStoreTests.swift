import Testing
@testable import LD4MRecCore
@testable import LD4MRecServing
@testable import LD4MRecStorage
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct HistoryStoreTests {
    @Test func updatesKeepSortedUniqueItemsKnownOrNot() throws {
        let model = try smallModel()
        let ids = model.catalogue.ids
        let store = HistoryStore(model: model)
        #expect(store.userCount == 0)
        // 99 is not in the catalogue: counted, and kept (a later model may know it).
        #expect(store.add(user: 7, items: [ids[5], ids[1], 99, ids[5]]) == 1)
        #expect(store.add(user: 7, items: [ids[3], ids[1], 99]) == 1)
        #expect(store.history(of: 7) == [99, ids[1], ids[3], ids[5]])
        #expect(try store.remove(user: 7, items: [ids[3], ids[30], 99]) == 2)
        #expect(store.history(of: 7) == [ids[1], ids[5]])
        #expect(store.replace(user: 7, items: [ids[9], -1, ids[9]]) == 1)
        #expect(store.history(of: 7) == [-1, ids[9]])
        store.add(user: -3, items: [])
        #expect(store.userIDs == [-3, 7])
        #expect(store.clear(user: 7))
        #expect(!store.clear(user: 7))
        #expect(store.history(of: 7) == nil)
        expectError(.unknownUser, containing: "user 7") { try store.remove(user: 7, items: [ids[1]]) }
    }

    @Test func trainingHistoriesServeKnownUsers() throws {
        let parameters = try ModelParameters.synthetic(smallSpec())
        let model = try Model(parameters)
        let store = HistoryStore(model: model, trainingHistories: true)
        #expect(store.userCount == parameters.userCount)
        let u = 4
        let expected = parameters.histories!.row(u).map { parameters.itemIDs[Int($0)] }
        #expect(store.history(of: parameters.userIDs[u]) == expected)
        let viaStore = try model.recommend(model.query(user: parameters.userIDs[u], in: store), k: 10)
        let viaHistory = try model.recommend(history: expected, user: parameters.userIDs[u], k: 10)
        #expect(viaStore == viaHistory)
    }

    /// A store made for one model is served by a retrained model with another catalogue
    /// (items added, removed, reordered), loses nothing, and is served again by the first.
    @Test func anyModelServesAnyStoreAndNothingIsLost() throws {
        let model = try smallModel()  // ids 1000, 1007, ..., 1273
        var spec = smallSpec(seed: 5)
        spec.items = 45
        spec.firstItemID = 1000 + 7 * 54  // 1378 down to 1070: 10 items gone, 15 new, reversed
        spec.itemIDStep = -7
        let retrained = try Model(try ModelParameters.synthetic(spec))
        let a = Set(model.catalogue.ids), b = Set(retrained.catalogue.ids)
        let onlyA = a.subtracting(b).sorted(), onlyB = b.subtracting(a).sorted(), both = a.intersection(b).sorted()
        #expect(onlyA.count == 10 && onlyB.count == 15)

        let store = HistoryStore(model: model, trainingHistories: true)
        let mixed = [onlyA[0], onlyA[3], both[2], both[7], onlyB[1], onlyB[4], 5]  // 5: known to neither
        #expect(store.add(user: 1, items: mixed) == 3)  // onlyB[1], onlyB[4], 5
        let before = Dictionary(uniqueKeysWithValues: store.userIDs.map { ($0, store.history(of: $0)!) })

        // Served by the retrained model as it is: each query skips and counts what that
        // model does not know, and answers as for the known part of the history.
        for (user, history) in before {
            let query = retrained.query(user: user, in: store)
            #expect(query.skippedItems == history.filter { !b.contains($0) }.count)
            #expect(try retrained.recommend(query, k: 5)
                == retrained.recommend(history: history.filter { b.contains($0) }, user: user, k: 5))
        }
        // The store's model: counts over the whole store, histories untouched.
        let expectedUnknown = before.values.reduce(0) { $0 + $1.filter { !b.contains($0) }.count }
        #expect(expectedUnknown > 0)
        #expect(store.setModel(retrained) == expectedUnknown)
        for (user, history) in before { #expect(store.history(of: user) == history) }
        #expect(store.add(user: 2, items: [onlyA[1], onlyB[2], both[0]]) == 1)  // now counted against the retrained model
        #expect(store.replace(user: 3, items: [onlyA[1], onlyA[2], 6]) == 3)
        // Back to the first model: its items were kept, and it serves them again.
        #expect(store.setModel(model) == before.values.reduce(0) { $0 + $1.filter { !a.contains($0) }.count } + 1 + 1)
        let query = model.query(user: 1, in: store)
        #expect(query.skippedItems == 3 && query.historyCount == 4)
        #expect(try model.recommend(query, k: 5) == model.recommend(history: [onlyA[0], onlyA[3], both[2], both[7]], user: 1, k: 5))
    }

    @Test func saveAndLoadRoundTrip() throws {
        let dir = temporaryDirectory()
        let model = try smallModel()
        let store = HistoryStore(model: model, trainingHistories: true)
        store.add(user: 123_456_789_012, items: [model.catalogue.ids[0]])
        store.add(user: -8, items: [])
        try store.save(to: dir + "/s.h5")
        let (loaded, skipped) = try HistoryStore.load(from: dir + "/s.h5", model: model)
        #expect(skipped == 0)
        #expect(loaded.userIDs == store.userIDs)
        for user in store.userIDs { #expect(loaded.history(of: user) == store.history(of: user)) }

        // Into a model that knows fewer items: the unknown ones are counted, and kept.
        var spec = smallSpec()
        spec.items = 20
        let smaller = try Model(try ModelParameters.synthetic(spec))
        let (partial, unknown) = try HistoryStore.load(from: dir + "/s.h5", model: smaller)
        let beyond = store.userIDs.reduce(0) { $0 + store.history(of: $1)!.filter { $0 >= smaller.catalogue.ids.last! + 1 }.count }
        #expect(unknown > 0 && unknown == beyond)
        #expect(partial.userIDs == store.userIDs)
        for user in store.userIDs { #expect(partial.history(of: user) == store.history(of: user)) }

        expectError(.invalidFile, containing: "format is 'ld4mrec-model'") {
            try ModelFile.write(try ModelParameters.synthetic(smallSpec()), to: dir + "/m.h5")
            _ = try HistoryStore.load(from: dir + "/m.h5", model: model)
        }
    }

    @Test func aFailedSaveLeavesTheOldFileIntact() throws {
        let dir = temporaryDirectory()
        let model = try smallModel()
        let store = HistoryStore(model: model)
        store.add(user: 1, items: [model.catalogue.ids[1]])
        try store.save(to: dir + "/s.h5")
        let before = readBytes(dir + "/s.h5")

        store.add(user: 2, items: [model.catalogue.ids[2]])
        struct Crash: Error {}
        // Only this test's folder: other suites may be saving files concurrently.
        AtomicFile.beforeRenameHook = { if $0.hasPrefix(dir) { throw Crash() } }
        defer { AtomicFile.beforeRenameHook = nil }
        #expect(throws: Crash.self) { try store.save(to: dir + "/s.h5") }
        AtomicFile.beforeRenameHook = nil

        #expect(readBytes(dir + "/s.h5") == before)
        #expect(try HistoryStore.load(from: dir + "/s.h5", model: model).store.userIDs == [1])
        // No temporary file is left behind.
        let listing = try listDirectory(dir)
        #expect(listing == ["s.h5"])
        // Saving into a folder that does not exist fails cleanly.
        expectError(.io, containing: "cannot create") { try store.save(to: dir + "/missing/s.h5") }
    }

    @Test func concurrentReadersSeeWholeUpdates() async throws {
        let model = try smallModel()
        let ids = model.catalogue.ids
        let store = HistoryStore(model: model, trainingHistories: true)
        let stable = Array(model.userIDs.prefix(6))
        let expected = try stable.map { try model.recommend(model.query(user: $0, in: store), k: 5) }
        let a = [ids[1], ids[2]], b = [ids[3], ids[4], ids[5]]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for reader in 0 ..< 8 {
                group.addTask {
                    for round in 0 ..< 60 {
                        let u = (reader + round) % stable.count
                        let got = try model.recommend(model.query(user: stable[u], in: store), k: 5)
                        #expect(got == expected[u])
                        // A user being rewritten is always one whole version or the other.
                        let h = store.history(of: 1_000) ?? a
                        #expect(h == a || h == b)
                    }
                }
            }
            for writer in 0 ..< 2 {
                group.addTask {
                    for round in 0 ..< 200 {
                        store.replace(user: 1_000, items: round % 2 == 0 ? a : b)
                        store.add(user: Int64(2_000 + writer), items: [ids[round % ids.count]])
                        store.replace(user: stable[round % stable.count], items: store.history(of: stable[round % stable.count])!)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
