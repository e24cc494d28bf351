import LD4MRecCore
import LD4MRecStorage

// A history store saved to and loaded from a store file (StoreFile: items as external
// ids, so that a file can be loaded with any model; unknown items are skipped).
extension HistoryStore {
    /// Saves atomically: temporary file, fsync, rename. The previous file survives any
    /// failure, including a crash mid-save. Sees one consistent state of the store.
    public func save(to path: String) throws {
        var contents = StoreFile.Contents(users: [], offsets: [0], items: [])
        for (user, rows) in snapshot().sorted(by: { $0.key < $1.key }) {
            contents.users.append(user)
            contents.items += rows.map { catalogue.ids[Int($0)] }
            contents.offsets.append(contents.items.count)
        }
        try StoreFile.write(contents, to: path)
    }

    /// Loads a store file for `model`; returns the store and the number of item ids the
    /// model does not know (skipped).
    public static func load(from path: String, model: Model) throws -> (store: HistoryStore, skipped: Int) {
        let contents = try StoreFile.read(from: path)
        var histories = [Int64: [Int32]](minimumCapacity: contents.users.count)
        var skipped = 0
        for (u, user) in contents.users.enumerated() {
            let (rows, unknown) = model.catalogue.resolveSet(contents.history(at: u))
            histories[user] = rows
            skipped += unknown
        }
        return (HistoryStore(catalogue: model.catalogue, histories: histories), skipped)
    }
}
