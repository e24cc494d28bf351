import LD4MRecCore

import CLD4MRecBLAS

/// EASE (Steck, 2019): the closed-form linear item-item model
///   B = argmin ||X - X B||^2 + lambda ||B||^2  subject to diag(B) = 0,
///   B = I - P / diag(P) with P = (X^T X + lambda I)^{-1}  (column j divided by P_jj),
/// computed from the training matrix alone. Row i of B is what history item i adds to
/// every item's score.
enum EASE {
    static func itemItem(_ train: CSRHistories, items n: Int, lambda: Double) throws -> Matrix {
        var gram = [Double](repeating: 0, count: try checkedProduct([n, n], what: "EASE Gram matrix"))
        for u in 0 ..< train.rowCount {
            let row = train.row(u)
            for i in row { for j in row { gram[Int(i) * n + Int(j)] += 1 } }
        }
        for i in 0 ..< n { gram[i * n + i] += lambda }
        // Cholesky factorisation and inverse of the symmetric positive definite matrix;
        // LAPACK fills one triangle (column-major "U" = row-major lower).
        var (size, lda, info) = (Int32(n), Int32(n), Int32(0))
        var uplo = CChar(UInt8(ascii: "U"))
        try BLAS.withThreads(Threads.defaultCount) {
            dpotrf_(&uplo, &size, &gram, &lda, &info)
            guard info == 0 else { throw LD4MRecError(.internalError, "EASE: Cholesky factorisation failed (info \(info))") }
            dpotri_(&uplo, &size, &gram, &lda, &info)
            guard info == 0 else { throw LD4MRecError(.internalError, "EASE: inversion failed (info \(info))") }
        }
        // Row-major view: entries with column >= row... LAPACK's upper triangle in column
        // order is the row-major lower triangle: mirror it.
        for i in 0 ..< n { for j in 0 ..< i { gram[j * n + i] = gram[i * n + j] } }
        var b = Matrix(zeros: n, n)
        for i in 0 ..< n {
            for j in 0 ..< n where i != j { b.values[i * n + j] = Float(-gram[i * n + j] / gram[j * n + j]) }
        }
        return b
    }
}
