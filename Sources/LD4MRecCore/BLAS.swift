import CLD4MRecBLAS
import CLD4MRecKernels

/// The dense kernels, all in CBLAS (row-major). OpenBLAS runs single-threaded: the
/// library parallelises its own work (`ThreadPool`), so that a call uses exactly the
/// threads it was given and concurrent calls do not compete inside OpenBLAS.
package enum BLAS {
    private static let prepared: Void = ld4mrk_prepare_openblas()

    /// Call before the first BLAS or LAPACK call of any path: puts OpenBLAS on the
    /// kernels of this CPU and on one thread, once.
    @inline(__always) package static func prepare() { _ = prepared }

    /// The kernels OpenBLAS runs (its core name), for benchmarks and reports.
    package static var kernels: String {
        prepare()
        return String(cString: ld4mrk_openblas_core())
    }

    /// `C = alpha * A B^T + beta * C` with A (m x k), B (n x k), C (m x n).
    package static func gemmABt(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                                m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0) {
        guard m > 0, n > 0 else { return }
        prepare()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(k), b, blasint(k), beta, c, blasint(n))
    }

    /// `C = alpha * A B + beta * C` with A (m x k), B (k x n), C (m x n).
    package static func gemmAB(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                               m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0) {
        guard m > 0, n > 0 else { return }
        prepare()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(k), b, blasint(n), beta, c, blasint(n))
    }

    /// `C = alpha * A^T B + beta * C` with A (k x m), B (k x n), C (m x n).
    package static func gemmAtB(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                                m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0) {
        guard m > 0, n > 0 else { return }
        prepare()
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(m), b, blasint(n), beta, c, blasint(n))
    }

    /// `y = alpha * A x + beta * y` with A (m x n, leading dimension lda).
    package static func gemv(_ a: UnsafePointer<Float>, lda: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                             m: Int, n: Int, alpha: Float = 1, beta: Float = 0) {
        guard m > 0 else { return }
        prepare()
        cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(m), blasint(n), alpha, a, blasint(lda), x, 1, beta, y, 1)
    }

    /// `C = alpha * op(A) op(B) + beta * C` (m x n), op(A) m x k, op(B) k x n, row-major
    /// with explicit leading dimensions.
    package static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                             _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                             _ c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0) {
        guard m > 0, n > 0 else { return }
        prepare()
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// `C = alpha * A B^T + beta * C` with explicit leading dimensions.
    package static func gemmABt(_ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                                _ c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, k: Int,
                                alpha: Float = 1, beta: Float = 0) {
        guard m > 0, n > 0 else { return }
        prepare()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    package static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        prepare()
        return cblas_sdot(blasint(count), x, 1, y, 1)
    }

    /// `x . y` summed in double (OpenBLAS's dsdot, vectorised).
    package static func doubleDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Double {
        prepare()
        return cblas_dsdot(blasint(count), x, 1, y, 1)
    }

    /// `b = a^T` for a row-major `rows x cols` a (OpenBLAS's omatcopy, cache-blocked).
    package static func transpose(_ a: UnsafePointer<Float>, rows: Int, cols: Int, into b: UnsafeMutablePointer<Float>) {
        guard rows > 0, cols > 0 else { return }
        prepare()
        cblas_somatcopy(CblasRowMajor, CblasTrans, blasint(rows), blasint(cols), 1, a, blasint(cols), b, blasint(rows))
    }

    /// `x *= alpha`
    package static func scale(_ alpha: Float, _ x: UnsafeMutablePointer<Float>, count: Int) {
        prepare()
        cblas_sscal(blasint(count), alpha, x, 1)
    }

    /// `y += alpha * x`
    package static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        prepare()
        cblas_saxpy(blasint(count), alpha, x, 1, y, 1)
    }
}
