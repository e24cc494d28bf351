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

    /// c_u (B x 2k) and p_{u,m} (B x d_m) for a batch of histories (item rows):
    ///   c_u = [ (sum_i V_i) / s ; deg_u^{-1/2} sum_i deg_i^{-1/2} V_i ]
    ///   p_um = deg_u^{-1/2} sum_i deg_i^{-1/2} f_im
    package func compute(_ histories: [[Int32]]) -> (collaborative: Matrix, preferences: [Matrix]) {
        let b = histories.count
        let k = rank
        var collaborative = Matrix(zeros: b, 2 * k)
        var preferences = features.map { Matrix(zeros: b, $0.cols) }
        for (u, items) in histories.enumerated() {
            let userScale: Float = items.isEmpty ? 0 : 1 / Float(items.count).squareRoot()
            collaborative.values.withUnsafeMutableBufferPointer { c in
                svdItemFactors.values.withUnsafeBufferPointer { v in
                    let first = c.baseAddress! + u * 2 * k
                    let second = first + k
                    for item in items {
                        let factors = v.baseAddress! + Int(item) * k
                        BLAS.axpy(1, factors, first, count: k)
                        BLAS.axpy(inverseSqrtItemDegree[Int(item)], factors, second, count: k)
                    }
                    for j in 0 ..< k {
                        first[j] *= inverseSingularValues[j]
                        second[j] *= userScale
                    }
                }
            }
            for m in features.indices {
                let dm = features[m].cols
                preferences[m].values.withUnsafeMutableBufferPointer { p in
                    features[m].values.withUnsafeBufferPointer { f in
                        let row = p.baseAddress! + u * dm
                        for item in items {
                            BLAS.axpy(inverseSqrtItemDegree[Int(item)] * userScale, f.baseAddress! + Int(item) * dm, row, count: dm)
                        }
                    }
                }
            }
        }
        return (collaborative, preferences)
    }
}
