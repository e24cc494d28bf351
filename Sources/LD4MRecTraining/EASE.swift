import CLD4MRecBLAS
import LD4MRecCore
import LD4MRecServing

/// EASE (Steck, 2019): the closed-form linear item-item model
///   B = argmin ||X - X B||^2 + lambda ||B||^2  subject to diag(B) = 0,
///   B = I - P / diag(P) with P = (X^T X + lambda I)^{-1}  (column j divided by P_jj),
/// computed from the training matrix alone. Row i of B is what history item i adds to
/// every item's score.
enum EASE {
    static func itemItem(_ train: CSRHistories, items n: Int, lambda: Double) throws -> Matrix {
        try itemItem(gram: try gram(train, items: n), items: n, lambda: lambda)
    }

    /// X^T X, row-major (n x n).
    static func gram(_ train: CSRHistories, items n: Int) throws -> [Double] {
        var gram = [Double](repeating: 0, count: try checkedProduct([n, n], what: "EASE Gram matrix"))
        for u in 0 ..< train.rowCount {
            let row = train.row(u)
            for i in row { for j in row { gram[Int(i) * n + Int(j)] += 1 } }
        }
        return gram
    }

    /// B for one lambda, from a Gram matrix computed once.
    static func itemItem(gram: [Double], items n: Int, lambda: Double) throws -> Matrix {
        var p = gram
        for i in 0 ..< n { p[i * n + i] += lambda }
        // Cholesky factorisation and inverse of the symmetric positive definite matrix;
        // LAPACK fills one triangle (column-major "U" = row-major lower).
        var (size, lda, info) = (Int32(n), Int32(n), Int32(0))
        var uplo = CChar(UInt8(ascii: "U"))
        // On one thread: OpenBLAS's thread count is process-wide, and raising it while other
        // threads run BLAS (the library's own teams, or the host's) is not safe in OpenBLAS
        // 0.3.21 (the test suite crashed in threads OpenBLAS was starting).
        BLAS.prepare()
        dpotrf_(&uplo, &size, &p, &lda, &info)
        guard info == 0 else { throw LD4MRecError(.internalError, "EASE: Cholesky factorisation failed (info \(info))") }
        dpotri_(&uplo, &size, &p, &lda, &info)
        guard info == 0 else { throw LD4MRecError(.internalError, "EASE: inversion failed (info \(info))") }
        // LAPACK's upper triangle in column order is the row-major lower triangle: mirror it.
        for i in 0 ..< n { for j in 0 ..< i { p[j * n + i] = p[i * n + j] } }
        var b = Matrix(zeros: n, n)
        for i in 0 ..< n {
            for j in 0 ..< n where i != j { b.values[i * n + j] = Float(-p[i * n + j] / p[j * n + j]) }
        }
        return b
    }

    /// The k-th step of the 1-2-5 series around `lambda`: k = 0 is lambda itself, k = 1 twice
    /// it, k = -1 half of it, k = 3 ten times it.
    static func candidate(_ k: Int, around lambda: Double) -> Double {
        let decade = k >= 0 ? k / 3 : -((-k + 2) / 3)
        let mantissa: Double = [1, 2, 5][k - 3 * decade]
        var scale = lambda * mantissa
        for _ in 0 ..< abs(decade) { scale = decade > 0 ? scale * 10 : scale / 10 }
        return scale
    }

    /// B with lambda chosen on the validation split (EASE alone, Recall@20): the Gram
    /// matrix once, one solve per candidate. The search spans 0.2 ... 20 times `lambda` and
    /// goes on along the series while the best is at an end (up to 10^4 times either way),
    /// since the best lambda grows with the data's density.
    static func chosen(_ dataset: Dataset, around lambda: Double) throws -> (Matrix, Double) {
        let n = dataset.itemCount
        let gram = try gram(dataset.train, items: n)
        let validation = HeldOutSplit(dataset, .valid)
        func tried(_ k: Int) throws -> (b: Matrix, k: Int, recall: Double) {
            let value = candidate(k, around: lambda)
            let b = try itemItem(gram: gram, items: n, lambda: value)
            return (b, k, BuiltPrior.ease(b, lambda: value).recallAlone(on: validation))
        }
        var lowest = -2, highest = 4
        var best = try tried(0)
        for k in lowest ... highest where k != 0 {
            let next = try tried(k)
            if next.recall > best.recall { best = next }
        }
        while best.k == highest, highest < 12 {
            highest += 1
            let next = try tried(highest)
            if next.recall > best.recall { best = next }
        }
        while best.k == lowest, lowest > -12 {
            lowest -= 1
            let next = try tried(lowest)
            if next.recall > best.recall { best = next }
        }
        return (best.b, candidate(best.k, around: lambda))
    }
}
