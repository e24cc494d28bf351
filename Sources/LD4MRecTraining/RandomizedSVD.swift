import LD4MRecCore

import CLD4MRecBLAS

/// Randomized truncated SVD (Halko, Martinsson, Tropp 2011, Alg. 4.4 + 5.1) of a sparse
/// binary matrix R (rows x cols, CSR), returning its top right singular vectors V
/// (cols x rank) and singular values. Memory is O((rows + cols) * (rank + oversamples)).
public enum RandomizedSVD {
    public static func decompose(_ matrix: CSRHistories, columns: Int, rank: Int, oversamples: Int = 10,
                                 powerIterations: Int = 4, seed: UInt64 = 0) throws -> (v: Matrix, singularValues: [Float]) {
        let rows = matrix.rowCount
        guard rank >= 1, rank <= min(rows, columns) else {
            throw LD4MRecError.invalidArgument("SVD rank \(rank) must be in 1...\(min(rows, columns)) (the matrix is \(rows) x \(columns))")
        }
        BLAS.prepare()
        let l = min(rank + max(0, oversamples), min(rows, columns))
        var rng = SeededGenerator(seed: seed ^ 0x5EED_5D)

        // Column-major dense blocks, as LAPACK wants them: Y (rows x l), Z (columns x l).
        var omega = [Double](repeating: 0, count: columns * l)
        for i in omega.indices { omega[i] = rng.nextGaussian() }
        var y = multiply(matrix, omega, columns: columns, width: l)            // R Ω
        try orthonormalize(&y, rows: rows, cols: l)
        for _ in 0 ..< powerIterations {
            var z = multiplyTransposed(matrix, y, columns: columns, width: l)  // R^T Q
            try orthonormalize(&z, rows: columns, cols: l)
            y = multiply(matrix, z, columns: columns, width: l)                // R Q'
            try orthonormalize(&y, rows: rows, cols: l)
        }
        // B = Q^T R (l x columns), kept as B^T = R^T Q (columns x l). Then B B^T = U S^2 U^T
        // and V = B^T U S^{-1}.
        let bt = multiplyTransposed(matrix, y, columns: columns, width: l)
        var gram = [Double](repeating: 0, count: l * l)
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, blasint(l), blasint(l), blasint(columns),
                    1, bt, blasint(columns), bt, blasint(columns), 0, &gram, blasint(l))
        let (eigenvalues, eigenvectors) = try symmetricEigen(gram, n: l)
        var v = Matrix(zeros: columns, rank)
        var singular = [Float](repeating: 0, count: rank)
        for j in 0 ..< rank {
            let source = l - 1 - j  // eigenvalues come ascending
            let sigma = max(eigenvalues[source], 0).squareRoot()
            singular[j] = Float(sigma)
            guard sigma > 1e-9 else { continue }
            for i in 0 ..< columns {
                var sum = 0.0
                for q in 0 ..< l { sum += bt[q * columns + i] * eigenvectors[source * l + q] }
                v[i, j] = Float(sum / sigma)
            }
        }
        return (v, singular)
    }

    /// R X for a column-major X (columns x width): a gather-sum of X's rows per row of R.
    private static func multiply(_ r: CSRHistories, _ x: [Double], columns: Int, width: Int) -> [Double] {
        let rows = r.rowCount
        var out = [Double](repeating: 0, count: rows * width)
        for u in 0 ..< rows {
            for item in r.row(u) {
                for c in 0 ..< width { out[c * rows + u] += x[c * columns + Int(item)] }
            }
        }
        return out
    }

    /// R^T Y for a column-major Y (rows x width).
    private static func multiplyTransposed(_ r: CSRHistories, _ y: [Double], columns: Int, width: Int) -> [Double] {
        let rows = r.rowCount
        var out = [Double](repeating: 0, count: columns * width)
        for u in 0 ..< rows {
            for item in r.row(u) {
                for c in 0 ..< width { out[c * columns + Int(item)] += y[c * rows + u] }
            }
        }
        return out
    }

    /// Replaces the columns of A (column-major, rows x cols, rows >= cols) by an
    /// orthonormal basis of their span (Householder QR).
    static func orthonormalize(_ a: inout [Double], rows: Int, cols: Int) throws {
        var (m, n, lda, info) = (Int32(rows), Int32(cols), Int32(rows), Int32(0))
        var tau = [Double](repeating: 0, count: cols)
        var lwork = Int32(max(1, cols * 64))
        var work = [Double](repeating: 0, count: Int(lwork))
        dgeqrf_(&m, &n, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw LD4MRecError(.internalError, "QR factorisation failed (info \(info))") }
        var k = n
        dorgqr_(&m, &n, &k, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw LD4MRecError(.internalError, "QR factorisation failed (info \(info))") }
    }

    /// Eigen-decomposition of a symmetric n x n matrix: eigenvalues ascending, eigenvectors
    /// as the columns of a column-major n x n matrix.
    static func symmetricEigen(_ matrix: [Double], n: Int) throws -> ([Double], [Double]) {
        var a = matrix
        var (size, lda, info) = (Int32(n), Int32(n), Int32(0))
        var w = [Double](repeating: 0, count: n)
        var lwork = Int32(1 + 6 * n + 2 * n * n)
        var liwork = Int32(3 + 5 * n)
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        var jobz = CChar(UInt8(ascii: "V")), uplo = CChar(UInt8(ascii: "U"))
        dsyevd_(&jobz, &uplo, &size, &a, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw LD4MRecError(.internalError, "eigen-decomposition failed (info \(info))") }
        return (w, a)
    }
}
