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

    /// Writes one history's c_u (2k floats, zeroed first) and p_{u,m} (d_m floats each):
    ///   c_u = [ (sum_i V_i) / s ; deg_u^{-1/2} sum_i deg_i^{-1/2} V_i ]
    ///   p_um = deg_u^{-1/2} sum_i deg_i^{-1/2} f_im
    package func write(_ items: [Int32], collaborative: UnsafeMutablePointer<Float>, preferences: [UnsafeMutablePointer<Float>]) {
        let k = rank
        let userScale: Float = items.isEmpty ? 0 : 1 / Float(items.count).squareRoot()
        let (first, second) = (collaborative, collaborative + k)
        first.update(repeating: 0, count: 2 * k)
        items.withUnsafeBufferPointer { items in
            inverseSqrtItemDegree.withUnsafeBufferPointer { degrees in
                svdItemFactors.values.withUnsafeBufferPointer { v in
                    Kernels.gatherAxpy(v, cols: k, items: items, to: first)
                    Kernels.gatherAxpy(v, cols: k, items: items, weights: degrees, to: second)
                }
                for (m, row) in preferences.enumerated() {
                    let dm = features[m].cols
                    row.update(repeating: 0, count: dm)
                    features[m].values.withUnsafeBufferPointer { f in
                        Kernels.gatherAxpy(f, cols: dm, items: items, weights: degrees, scale: userScale, to: row)
                    }
                }
            }
        }
        for j in 0 ..< k {
            first[j] *= inverseSingularValues[j]
            second[j] *= userScale
        }
    }
}
