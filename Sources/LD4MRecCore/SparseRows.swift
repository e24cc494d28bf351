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
