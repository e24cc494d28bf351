/// The frozen item-side tables and the formulas of docs/MODEL.md that turn a history into
/// the C-Net's condition signals. Serving and training both compute signals here.
package struct ConditionSignals: Sendable {
    /// V (n_items x k).
    package let svdItemFactors: Matrix
    /// 1 / s.
    package let inverseSingularValues: [Float]
    /// deg_i^{-1/2}, 0 for items without training interactions.
    package let inverseSqrtItemDegree: [Float]
    /// Processed features per modality (n_items x d_m).
    package let features: [Matrix]

    package init(svdItemFactors: Matrix, singularValues: [Float], itemDegrees: [Int64], features: [Matrix]) {
        self.svdItemFactors = svdItemFactors
        inverseSingularValues = singularValues.map { 1 / $0 }
        inverseSqrtItemDegree = itemDegrees.map { $0 > 0 ? Float(1 / Double($0).squareRoot()) : 0 }
        self.features = features
    }

    package var rank: Int { svdItemFactors.cols }

    /// Writes one history's c_u (2k floats, zeroed first) and p_{u,m} (d_m floats each).
    package func write(_ items: [Int32], collaborative: UnsafeMutablePointer<Float>, preferences: [UnsafeMutablePointer<Float>]) {
        let k = rank
        let userScale: Float = items.isEmpty ? 0 : 1 / Float(items.count).squareRoot()
        let (first, second) = (collaborative, collaborative + k)
        first.update(repeating: 0, count: 2 * k)
        svdItemFactors.values.withUnsafeBufferPointer { v in
            for item in items {
                let factors = v.baseAddress! + Int(item) * k
                BLAS.axpy(1, factors, first, count: k)
                BLAS.axpy(inverseSqrtItemDegree[Int(item)], factors, second, count: k)
            }
        }
        for j in 0 ..< k {
            first[j] *= inverseSingularValues[j]
            second[j] *= userScale
        }
        for (m, row) in preferences.enumerated() {
            let dm = features[m].cols
            row.update(repeating: 0, count: dm)
            features[m].values.withUnsafeBufferPointer { f in
                for item in items {
                    BLAS.axpy(inverseSqrtItemDegree[Int(item)] * userScale, f.baseAddress! + Int(item) * dm, row, count: dm)
                }
            }
        }
    }

    /// c_u (B x 2k) and p_{u,m} (B x d_m) for a batch of histories (item rows):
    ///   c_u = [ (sum_i V_i) / s ; deg_u^{-1/2} sum_i deg_i^{-1/2} V_i ]
    ///   p_um = deg_u^{-1/2} sum_i deg_i^{-1/2} f_im
    package func compute(_ histories: [[Int32]]) -> (collaborative: Matrix, preferences: [Matrix]) {
        let widths = features.map(\.cols)
        var collaborative = Matrix(zeros: histories.count, 2 * rank)
        var preferences = widths.map { Matrix(zeros: histories.count, $0) }
        var row = [Float](repeating: 0, count: 2 * rank + widths.reduce(0, +))
        for (u, items) in histories.enumerated() {
            row.withUnsafeMutableBufferPointer { buffer in
                let base = buffer.baseAddress!
                var offsets = [2 * rank]
                for width in widths.dropLast() { offsets.append(offsets[offsets.count - 1] + width) }
                write(items, collaborative: base, preferences: offsets.map { base + $0 })
            }
            var offset = 2 * rank
            for j in 0 ..< 2 * rank { collaborative.values[u * 2 * rank + j] = row[j] }
            for (m, width) in widths.enumerated() {
                for j in 0 ..< width { preferences[m].values[u * width + j] = row[offset + j] }
                offset += width
            }
        }
        return (collaborative, preferences)
    }
}
