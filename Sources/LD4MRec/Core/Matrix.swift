import CLD4MRecBLAS

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
    init(unchecked rows: Int, _ cols: Int, _ values: [Float]) {
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    public init(zeros rows: Int, _ cols: Int) {
        self.init(unchecked: rows, cols, [Float](repeating: 0, count: rows * cols))
    }

    @inline(__always)
    public subscript(row: Int, col: Int) -> Float {
        get { values[row * cols + col] }
        set { values[row * cols + col] = newValue }
    }

    /// A copy of row `row`.
    public func row(_ row: Int) -> [Float] {
        Array(values[row * cols ..< (row + 1) * cols])
    }
}

/// The dense kernels, all in CBLAS.
enum BLAS {
    /// `C = alpha * A B^T + beta * C` with A (m x k), B (n x k), C (m x n), all row-major.
    static func gemmABt(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                        m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(k), b, blasint(k), beta, c, blasint(n))
    }

    /// `C = alpha * A B + beta * C` with A (m x k), B (k x n), C (m x n), all row-major.
    static func gemmAB(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                       m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(k), b, blasint(n), beta, c, blasint(n))
    }

    /// `C = alpha * A^T B + beta * C` with A (k x m), B (k x n), C (m x n), all row-major.
    static func gemmAtB(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                        m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(m), b, blasint(n), beta, c, blasint(n))
    }

    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        cblas_sdot(blasint(count), x, 1, y, 1)
    }

    /// `x *= alpha`
    static func scale(_ alpha: Float, _ x: UnsafeMutablePointer<Float>, count: Int) {
        cblas_sscal(blasint(count), alpha, x, 1)
    }

    /// `y += alpha * x`
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        cblas_saxpy(blasint(count), alpha, x, 1, y, 1)
    }
}
