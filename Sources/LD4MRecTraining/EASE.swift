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
        try BLAS.withThreads(Threads.defaultCount) {
            dpotrf_(&uplo, &size, &p, &lda, &info)
            guard info == 0 else { throw LD4MRecError(.internalError, "EASE: Cholesky factorisation failed (info \(info))") }
            dpotri_(&uplo, &size, &p, &lda, &info)
            guard info == 0 else { throw LD4MRecError(.internalError, "EASE: inversion failed (info \(info))") }
        }
        // LAPACK's upper triangle in column order is the row-major lower triangle: mirror it.
        for i in 0 ..< n { for j in 0 ..< i { p[j * n + i] = p[i * n + j] } }
        var b = Matrix(zeros: n, n)
        for i in 0 ..< n {
            for j in 0 ..< n where i != j { b.values[i * n + j] = Float(-p[i * n + j] / p[j * n + j]) }
        }
        return b
    }

    /// The lambdas `chosen` tries, around the given one.
    static func candidates(around lambda: Double) -> [Double] { [0.2, 0.5, 1, 2, 5, 10, 20].map { $0 * lambda } }

    /// B with lambda chosen on the validation split (EASE alone, Recall@20): the Gram
    /// matrix once, one solve per candidate.
    static func chosen(_ dataset: Dataset, around lambda: Double) throws -> (Matrix, Double) {
        let n = dataset.itemCount
        let gram = try gram(dataset.train, items: n)
        let validation = HeldOutSplit(dataset, .valid)
        var best: (Matrix, Double, Double)?
        var row = [Float](repeating: 0, count: n)
        for candidate in candidates(around: lambda) {
            let b = try itemItem(gram: gram, items: n, lambda: candidate)
            let rankings = b.values.withUnsafeBufferPointer { table in
                validation.users.map { u -> [Int64] in
                    row.withUnsafeMutableBufferPointer { scores in
                        scores.update(repeating: 0)
                        for item in dataset.train.row(u) {
                            BLAS.axpy(1, table.baseAddress! + Int(item) * n, scores.baseAddress!, count: n)
                        }
                        return topK(scores.baseAddress!, count: n, k: 20, skipping: Array(dataset.train.row(u))).map { Int64($0.row) }
                    }
                }
            }
            let recall = validation.metrics(rankings).recall20
            if let current = best, recall <= current.2 { continue }
            best = (b, candidate, recall)
        }
        guard let best else { throw LD4MRecError(.internalError, "EASE: no lambda to choose from") }
        return (best.0, best.1)
    }
}
