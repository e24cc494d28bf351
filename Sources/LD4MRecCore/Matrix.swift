/// A dense row-major float32 matrix. Weights follow the (out, in) convention, so a layer
/// computes `Y = X W^T + b` with one GEMM over a batch of rows.
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let cols: Int
    public var values: [Float]

    /// A matrix over `values` (row-major); throws `.invalidArgument` unless there are
    /// exactly `rows * cols` of them.
    public init(rows: Int, cols: Int, values: [Float]) throws {
        guard rows >= 0, cols >= 0, rows.multipliedReportingOverflow(by: cols) == (values.count, false) else {
            throw LD4MRecError.invalidArgument("a \(rows) x \(cols) matrix needs \(rows) * \(cols) values, got \(values.count)")
        }
        self.init(unchecked: rows, cols, values)
    }

    /// For callers that built `values` from the shape itself.
    package init(unchecked rows: Int, _ cols: Int, _ values: [Float]) {
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    public init(zeros rows: Int, _ cols: Int) {
        self.init(unchecked: rows, cols, [Float](repeating: 0, count: rows * cols))
    }

    @inlinable
    public subscript(row: Int, col: Int) -> Float {
        get { values[row * cols + col] }
        set { values[row * cols + col] = newValue }
    }

    /// A copy of row `row`.
    public func row(_ row: Int) -> [Float] {
        Array(values[row * cols ..< (row + 1) * cols])
    }
}
