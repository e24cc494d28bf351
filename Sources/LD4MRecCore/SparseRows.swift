/// A sparse matrix by rows (CSR): row r holds `values[offsets[r] ..< offsets[r + 1]]` at
/// columns `columns[...]`, ascending. The sparse item-item prior: row j is what history
/// item j adds to the scores of its neighbours.
public struct SparseRows: Sendable, Equatable {
    public var cols: Int
    public var offsets: [Int]
    public var columns: [Int32]
    public var values: [Float]

    public init(cols: Int, offsets: [Int], columns: [Int32], values: [Float]) {
        self.cols = cols
        self.offsets = offsets
        self.columns = columns
        self.values = values
    }

    public var rows: Int { offsets.count - 1 }
    public var entries: Int { columns.count }

    /// `y[c] += row r's value at c` for the row's columns c in `columns` (y indexed by
    /// column: the entries of a score row).
    package func addRow(_ r: Int, to y: UnsafeMutablePointer<Float>, columns range: Range<Int>) {
        let (start, count) = (offsets[r], offsets[r + 1] - offsets[r])
        columns.withUnsafeBufferPointer { columns in
            values.withUnsafeBufferPointer { values in
                Kernels.addSparseRow(columns.baseAddress! + start, values.baseAddress! + start, count: count,
                                     columns: range, to: y)
            }
        }
    }

    /// For every item of `histories`, in ascending order, and every member u of the batch
    /// holding it: `out[u * ld + c] += row item's value at c` for its columns c in
    /// `columns`. Each user's row gets its items' rows in ascending order, as `addRow` over a
    /// history adds them, but each row is read once per batch rather than once per user
    /// holding it (`InferenceTable.addRows` does the same for the dense prior).
    package func addRows(_ histories: ItemUsers, to out: UnsafeMutablePointer<Float>, ld: Int, columns range: Range<Int>) {
        // Plain pointers in the loops: an array touched per row would be retained and
        // released each time, on a count the team's other members share.
        let (rowOffsets, rowColumns, rowValues) = (offsets, columns, values)
        rowOffsets.withUnsafeBufferPointer { rowOffsets in
            rowColumns.withUnsafeBufferPointer { rowColumns in
                rowValues.withUnsafeBufferPointer { rowValues in
                    histories.items.withUnsafeBufferPointer { items in
                        histories.offsets.withUnsafeBufferPointer { offsets in
                            histories.users.withUnsafeBufferPointer { users in
                                for e in 0 ..< items.count {
                                    let r = Int(items[e])
                                    let (start, count) = (rowOffsets[r], rowOffsets[r + 1] - rowOffsets[r])
                                    for user in users[offsets[e] ..< offsets[e + 1]] {
                                        Kernels.addSparseRow(rowColumns.baseAddress! + start, rowValues.baseAddress! + start,
                                                             count: count, columns: range, to: out + Int(user) * ld)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Checks the layout; messages name the tables under `group`.
    package func validate(rows expected: Int, group: String) throws {
        try CSRHistories.validate(offsets: offsets, entries: columns, rows: expected, itemCount: cols,
                                  offsetsName: group + "/offsets", entriesName: group + "/columns")
        guard values.count == columns.count else {
            throw LD4MRecError.invalidArgument("'\(group)/values' has length \(values.count), expected \(columns.count)")
        }
        if let bad = Kernels.firstNonFinite(values) {
            throw LD4MRecError.invalidArgument("'\(group)/values': value \(values[bad]) at flat index \(bad) is not finite")
        }
        for r in 0 ..< rows where offsets[r] + 1 < offsets[r + 1] {
            for e in offsets[r] + 1 ..< offsets[r + 1] where columns[e - 1] >= columns[e] {
                throw LD4MRecError.invalidArgument("'\(group)/columns': row \(r) is not strictly ascending")
            }
        }
    }
}
