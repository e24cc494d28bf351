import Glibc
import LD4MRecCore
import LD4MRecServing

/// The item-item prior for catalogues too large for EASE's dense inverse: each item's
/// `neighbours` most similar items, as a sparse table (row i: what history item i adds to
/// its neighbours' scores). The similarity follows RP3beta (Paudel et al., 2017): a shared
/// user counts for the inverse of their history's length, and the target's popularity is
/// divided out to the power beta,
///   w_ij = sum over u in U_i and U_j of 1 / |I_u|,  divided by  sqrt(deg_i) deg_j^beta,  i != j.
/// Without the user weights, cosine similarity (beta = 1/2) divides out popularity
/// entirely and heavy users' chance co-occurrences dominate; on TikTok that scored a tenth
/// of EASE (BENCHMARKS.md). Time grows with sum over users of |history|^2, memory with
/// items x neighbours: nothing is n_items^2.
package enum ItemKNN {
    package static func itemItem(_ train: CSRHistories, items n: Int, neighbours: Int, popularityExponent beta: Double,
                                 threads: Int) -> SparseRows {
        // Users of each item: the training matrix by columns.
        var degree = [Int](repeating: 0, count: n)
        for item in train.items { degree[Int(item)] += 1 }
        var starts = [0]
        for d in degree { starts.append(starts[starts.count - 1] + d) }
        var fill = starts
        var usersOf = [Int32](repeating: 0, count: train.items.count)
        for u in 0 ..< train.rowCount {
            for item in train.row(u) {
                usersOf[fill[Int(item)]] = Int32(u)
                fill[Int(item)] += 1
            }
        }
        let userWeight = (0 ..< train.rowCount).map { 1 / Double(max(1, train.row($0).count)) }
        // Divisors of w_ij (items without users have no neighbours and are no one's).
        let rootDegree = degree.map { Double($0).squareRoot() }
        let popularity = degree.map { pow(Double($0), beta) }

        // Each member takes a share of the items; an item's row goes to its own slots.
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let columns = UnsafeMutablePointer<Int32>.allocate(capacity: n * neighbours)
        let values = UnsafeMutablePointer<Float>.allocate(capacity: n * neighbours)
        defer {
            counts.deallocate()
            columns.deallocate()
            values.deallocate()
        }
        ThreadPool.shared.run(threads: threads) { team in
            var together = [Double](repeating: 0, count: n)  // weighted users shared with item i
            var touched: [Int32] = []
            for i in team.share(of: n) {
                for e in starts[i] ..< starts[i + 1] {
                    let u = Int(usersOf[e])
                    for j in train.row(u) where Int(j) != i {
                        if together[Int(j)] == 0 { touched.append(j) }
                        together[Int(j)] += userWeight[u]
                    }
                }
                var selector = TopKSelector(k: min(neighbours, touched.count))
                for j in touched {
                    selector.offer(row: j, score: Float(together[Int(j)] / (rootDegree[i] * popularity[Int(j)])))
                    together[Int(j)] = 0
                }
                touched.removeAll(keepingCapacity: true)
                let kept = selector.sorted().sorted { $0.row < $1.row }
                counts[i] = kept.count
                for (k, entry) in kept.enumerated() {
                    columns[i * neighbours + k] = entry.row
                    values[i * neighbours + k] = entry.score
                }
            }
        }
        var result = SparseRows(cols: n, offsets: [0], columns: [], values: [])
        for i in 0 ..< n {
            result.columns += UnsafeBufferPointer(start: columns + i * neighbours, count: counts[i])
            result.values += UnsafeBufferPointer(start: values + i * neighbours, count: counts[i])
            result.offsets.append(result.columns.count)
        }
        return result
    }

    /// The exponents `chosen` tries: 0 (popular targets kept) to 1 (popularity divided out).
    package static let popularityExponents = (0 ... 10).map { Double($0) / 10 }

    /// Validation users the choice of beta ranks at most: every s-th beyond (a ranking
    /// costs users x items, eleven times).
    package static let choiceUsers = 10_000

    /// The table with beta chosen on the validation split (the prior alone, Recall@20; the
    /// first best): TikTok's held-out items are mostly popular ones (beta 0.1), ML-1M's less
    /// so (0.7). One build and one validation ranking per exponent.
    package static func chosen(_ dataset: Dataset, neighbours: Int, threads: Int) -> (SparseRows, Double) {
        let n = dataset.itemCount
        let validation = HeldOutSplit(dataset, .valid).sample(atMost: choiceUsers)
        var best = (table: SparseRows(cols: n, offsets: [], columns: [], values: []), beta: 0.0, recall: -1.0)
        for beta in popularityExponents {
            let table = itemItem(dataset.train, items: n, neighbours: neighbours, popularityExponent: beta, threads: threads)
            let recall = BuiltPrior.knn(table, popularityExponent: beta).recallAlone(on: validation)
            if recall > best.recall { best = (table, beta, recall) }
        }
        return (best.table, best.beta)
    }
}
