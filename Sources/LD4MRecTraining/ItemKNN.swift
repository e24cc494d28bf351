import LD4MRecCore

/// The item-item prior for catalogues too large for EASE's dense inverse: each item's
/// `neighbours` most similar items by shrunk cosine similarity of their training users,
///   w_ij = |U_i and U_j| / (sqrt(deg_i deg_j) + shrink),  i != j,
/// as a sparse table (row j: what history item j adds to its neighbours' scores). Time
/// grows with sum over users of |history|^2, memory with items x neighbours: nothing is
/// n_items^2.
package enum ItemKNN {
    package static func itemItem(_ train: CSRHistories, items n: Int, neighbours: Int, shrink: Double, threads: Int) -> SparseRows {
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
        let inverseSqrtDegree = degree.map { $0 > 0 ? 1 / Double($0).squareRoot() : 0 }

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
            var together = [Float](repeating: 0, count: n)  // users shared with item i
            var touched: [Int32] = []
            for i in team.share(of: n) {
                for e in starts[i] ..< starts[i + 1] {
                    for j in train.row(Int(usersOf[e])) where Int(j) != i {
                        if together[Int(j)] == 0 { touched.append(j) }
                        together[Int(j)] += 1
                    }
                }
                var selector = TopKSelector(k: min(neighbours, touched.count))
                for j in touched {
                    let similarity = Double(together[Int(j)]) * inverseSqrtDegree[i] * inverseSqrtDegree[Int(j)]
                    let shrunk = similarity / (1 + shrink * inverseSqrtDegree[i] * inverseSqrtDegree[Int(j)])
                    selector.offer(row: j, score: Float(shrunk))
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
}
