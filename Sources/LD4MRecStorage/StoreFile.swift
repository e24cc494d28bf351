import LD4MRecCore

/// History store file format v1 (HDF5): docs/FORMAT.md. A store file holds users and
/// their histories as external item ids, so that it can be loaded with any model.
public enum StoreFile {
    public static let formatName = "ld4mrec-store"
    public static let formatVersion = 1

    /// What a store file holds: each user's item ids, users ascending.
    public struct Contents: Sendable, Equatable {
        public var users: [Int64]
        /// Row pointers into `items`, `users.count + 1` entries.
        public var offsets: [Int]
        public var items: [Int64]

        public init(users: [Int64], offsets: [Int], items: [Int64]) {
            self.users = users
            self.offsets = offsets
            self.items = items
        }

        public func history(at index: Int) -> ArraySlice<Int64> { items[offsets[index] ..< offsets[index + 1]] }
    }

    /// Writes atomically: temporary file, fsync, rename. The previous file survives any
    /// failure, including a crash mid-save.
    public static func write(_ contents: Contents, to path: String) throws {
        try AtomicFile.write(to: path) { temporary in
            try HDF5File.serialized {
                let file = try HDF5File.create(temporary)
                try file.writeString("/", "format", formatName)
                try file.writeInteger("/", "format_version", Int64(formatVersion))
                try file.writeInt64s("/users", shape: [contents.users.count], contents.users)
                try file.writeInt64s("/offsets", shape: [contents.offsets.count], contents.offsets.map { Int64($0) })
                try file.writeInt64s("/items", shape: [contents.items.count], contents.items)
                try file.close()
            }
        }
    }

    /// Reads and validates a store file.
    public static func read(from path: String) throws -> Contents {
        try HDF5File.serialized {
            let file = try HDF5File.openForReading(path)
            try file.requireFormat(formatName, version: formatVersion, kind: "store")
            let users = try file.readInt64s("/users", rank: 1).values
            let offsets = try file.readInt64s("/offsets", rank: 1).values
            let items = try file.readInt64s("/items", rank: 1).values
            do {
                try CSRHistories.validate(offsets: offsets, entries: items, rows: users.count, itemCount: nil,
                                          offsetsName: "/offsets", entriesName: "/items")
            } catch let error as LD4MRecError {
                throw LD4MRecError.invalidFile("'\(path)': \(error.message)")
            }
            guard Set(users).count == users.count else {
                throw LD4MRecError.invalidFile("'\(path)': '/users' holds a user id more than once")
            }
            return Contents(users: users, offsets: offsets.map { Int($0) }, items: items)
        }
    }
}
