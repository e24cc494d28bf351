import Testing
@testable import LD4MRecCore
@testable import LD4MRecServing
@testable import LD4MRecStorage
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct HistoryStoreTests {
    @Test func updatesKeepSortedUniqueKnownItems() throws {
        let model = try smallModel()
        let ids = model.catalogue.ids
        let store = HistoryStore(model: model)
        #expect(store.userCount == 0)
        #expect(store.add(user: 7, items: [ids[5], ids[1], 99, ids[5]]) == 1)
        #expect(store.add(user: 7, items: [ids[3], ids[1]]) == 0)
        #expect(store.history(of: 7) == [ids[1], ids[3], ids[5]])
        #expect(try store.remove(user: 7, items: [ids[3], ids[30], 99]) == 1)
        #expect(store.history(of: 7) == [ids[1], ids[5]])
        #expect(store.replace(user: 7, items: [ids[9], -1]) == 1)
        #expect(store.history(of: 7) == [ids[9]])
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
        let viaStore = try model.recommend(try model.query(user: parameters.userIDs[u], in: store), k: 10)
        let viaHistory = try model.recommend(history: expected, user: parameters.userIDs[u], k: 10)
        #expect(viaStore == viaHistory)
    }

    @Test func storesOfAnotherCatalogueAreRefused() throws {
        let model = try smallModel()
        var spec = smallSpec()
        spec.items = 41
        let other = try Model(try ModelParameters.synthetic(spec))
        let store = HistoryStore(model: other)
        expectError(.invalidArgument, containing: "another item catalogue") { _ = try model.query(user: 1, in: store) }
        // Same ids in another model object: compatible.
        #expect(throws: Never.self) { _ = try model.query(user: 1, in: HistoryStore(model: try smallModel(seed: 9))) }
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

        // Into a model that knows fewer items: the unknown ones are skipped and counted.
        var spec = smallSpec()
        spec.items = 20
        let smaller = try Model(try ModelParameters.synthetic(spec))
        let (partial, dropped) = try HistoryStore.load(from: dir + "/s.h5", model: smaller)
        let total = store.userIDs.reduce(0) { $0 + store.history(of: $1)!.count }
        let kept = partial.userIDs.reduce(0) { $0 + partial.history(of: $1)!.count }
        #expect(dropped > 0 && kept + dropped == total)

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
        let expected = try stable.map { try model.recommend(try model.query(user: $0, in: store), k: 5) }
        let a = [ids[1], ids[2]], b = [ids[3], ids[4], ids[5]]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for reader in 0 ..< 8 {
                group.addTask {
                    for round in 0 ..< 60 {
                        let u = (reader + round) % stable.count
                        let got = try model.recommend(try model.query(user: stable[u], in: store), k: 5)
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
