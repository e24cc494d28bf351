/// Training histories of the users known to the model, in CSR form over item indices.
public struct CSRHistories: Sendable, Equatable {
    /// Row pointers, `users + 1` entries.
    public var offsets: [Int]
    /// Item indices (rows of the item tables), ascending within a user.
    public var items: [Int32]

    public init(offsets: [Int], items: [Int32]) {
        self.offsets = offsets
        self.items = items
    }

    /// CSR of the given rows, each sorted.
    public init(rows: [[Int32]]) {
        var offsets = [0]
        var items: [Int32] = []
        for row in rows {
            items += row.sorted()
            offsets.append(items.count)
        }
        self.init(offsets: offsets, items: items)
    }

    public var rowCount: Int { offsets.count - 1 }

    public func row(_ user: Int) -> ArraySlice<Int32> { items[offsets[user] ..< offsets[user + 1]] }
}

extension CSRHistories {
    /// Checks a CSR layout read from a file or built by a caller: `offsets` has
    /// `rows + 1` entries (when `rows` is given), starts at 0, never decreases and ends at
    /// `entries.count`; with `itemCount`, every entry is an item row in `0..<itemCount`.
    /// Messages name the two tables as `offsetsName` and `entriesName`.
    package static func validate<Offset: BinaryInteger, Entry: BinaryInteger>(
        offsets: [Offset], entries: [Entry], rows: Int?, itemCount: Int?,
        offsetsName: String, entriesName: String
    ) throws {
        if let rows, offsets.count != rows + 1 {
            throw LD4MRecError.invalidArgument("'\(offsetsName)' has length \(offsets.count), expected n_users + 1 = \(rows + 1)")
        }
        guard offsets.first == 0, offsets.last == Offset(entries.count),
              zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw LD4MRecError.invalidArgument(
                "'\(offsetsName)' must start at 0, never decrease and end at the length of '\(entriesName)'")
        }
        if let itemCount, !entries.allSatisfy({ $0 >= 0 && $0 < itemCount }) {
            throw LD4MRecError.invalidArgument("'\(entriesName)' holds an item index outside 0..<\(itemCount)")
        }
    }
}
