import LD4MRecCore
import LD4MRecStorage

// A history store saved to and loaded from a store file (StoreFile: items as external
// ids, as the store keeps them, so that a file can be loaded with any model).
extension HistoryStore {
    /// Saves atomically: temporary file, fsync, rename. The previous file survives any
    /// failure, including a crash mid-save. Sees one consistent state of the store.
    public func save(to path: String) throws {
        let contents = withHistories { histories in
            var contents = StoreFile.Contents(users: [], offsets: [0], items: [])
            for (user, items) in histories.sorted(by: { $0.key < $1.key }) {
                contents.users.append(user)
                contents.items += items
                contents.offsets.append(contents.items.count)
            }
            return contents
        }
        try StoreFile.write(contents, to: path)  // outside the lock: updates go on
    }

    /// Loads a store file for `model`; returns the store, which keeps every item id of
    /// the file, and how many of them (one per user and item) the model does not know.
    public static func load(from path: String, model: Model) throws -> (store: HistoryStore, unknown: Int) {
        let contents = try StoreFile.read(from: path)
        var histories = [Int64: [Int64]](minimumCapacity: contents.users.count)
        var unknown = 0
        for (u, user) in contents.users.enumerated() {
            let history = contents.history(at: u).sorted().uniqued()
            histories[user] = history
            unknown += model.catalogue.unknownCount(history)
        }
        return (HistoryStore(catalogue: model.catalogue, histories: histories), unknown)
    }
}
