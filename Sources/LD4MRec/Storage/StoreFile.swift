/// History store file format v1 (HDF5): docs/FORMAT.md. Items are saved as external ids,
/// so a store file can be loaded with any model (unknown items are skipped).
extension HistoryStore {
    public static let formatName = "ld4mrec-store"
    public static let formatVersion = 1

    /// Saves atomically: temporary file, fsync, rename. The previous file survives any
    /// failure, including a crash mid-save.
    public func save(to path: String) throws {
        let histories = snapshot().sorted { $0.key < $1.key }
        let users = histories.map(\.key)
        var offsets: [Int64] = [0]
        var items: [Int64] = []
        offsets.reserveCapacity(users.count + 1)
        for (_, rows) in histories {
            items.append(contentsOf: rows.map { catalogue.ids[Int($0)] })
            offsets.append(Int64(items.count))
        }
        try AtomicFile.write(to: path) { temporary in
            try HDF5File.serialized {
                let file = try HDF5File.create(temporary)
                try file.writeString("/", "format", Self.formatName)
                try file.writeInteger("/", "format_version", Int64(Self.formatVersion))
                try file.writeInt64s("/users", shape: [users.count], users)
                try file.writeInt64s("/offsets", shape: [offsets.count], offsets)
                try file.writeInt64s("/items", shape: [items.count], items)
                try file.close()
            }
        }
    }

    /// Loads a store file for `model`; returns the store and the number of item ids the
    /// model does not know (skipped).
    public static func load(from path: String, model: Model) throws -> (store: HistoryStore, skipped: Int) {
        let (users, offsets, items) = try HDF5File.serialized {
            let file = try HDF5File.openForReading(path)
            func fail(_ message: String) -> LD4MRecError { .invalidFile("'\(path)': \(message)") }
            try file.requireFormat(formatName, version: formatVersion, kind: "store")
            let users = try file.readInt64s("/users", rank: 1).values
            let offsets = try file.readInt64s("/offsets", rank: 1).values
            let items = try file.readInt64s("/items", rank: 1).values
            guard offsets.count == users.count + 1, offsets.first == 0, offsets.last == Int64(items.count),
                  zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw fail("'/offsets' must have n_users + 1 entries, start at 0, never decrease and end at the length of '/items'")
            }
            guard Set(users).count == users.count else { throw fail("'/users' holds a user id more than once") }
            return (users, offsets, items)
        }
        var histories = [Int64: [Int32]](minimumCapacity: users.count)
        var skipped = 0
        for (u, user) in users.enumerated() {
            let (rows, unknown) = model.catalogue.resolveSet(items[Int(offsets[u]) ..< Int(offsets[u + 1])])
            histories[user] = rows
            skipped += unknown
        }
        return (HistoryStore(catalogue: model.catalogue, histories: histories), skipped)
    }
}
