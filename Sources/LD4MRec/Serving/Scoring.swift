/// One user to score: the rows of their history's items (sorted, unique) and their row of
/// z_in (nil: z_in_default).
struct ScoringRequest: Sendable {
    var items: [Int32]
    var userRow: Int?
}

extension Model {
    /// The C-Net inputs of a batch of histories: the input layer as a gather over each
    /// history's items, and the condition signals of docs/MODEL.md.
    func inputs(for requests: [ScoringRequest]) -> CNetInputs {
        let b = requests.count
        let (d, k, df) = (hiddenSize, hyperparameters.svdRank, hyperparameters.stepEmbeddingSize)
        var h0 = Matrix(zeros: b, d)
        var z = Matrix(zeros: b, df)
        var collaborative = Matrix(zeros: b, 2 * k)
        var preferences = features.map { Matrix(zeros: b, $0.cols) }

        for (u, request) in requests.enumerated() {
            h0.values.withUnsafeMutableBufferPointer { h in
                inputByItem.values.withUnsafeBufferPointer { w in
                    let row = h.baseAddress! + u * d
                    for c in 0 ..< d { row[c] = inputBias[c] }
                    for item in request.items { BLAS.axpy(1, w.baseAddress! + Int(item) * d, row, count: d) }
                }
            }
            let zRow = request.userRow.map { zIn.row($0) } ?? zInDefault
            for c in 0 ..< df { z[u, c] = zRow[c] }

            // c_u = [ (sum V_i) / s ; deg_u^{-1/2} sum deg_i^{-1/2} V_i ]
            // p_um = deg_u^{-1/2} sum deg_i^{-1/2} f_im
            let userScale: Float = request.items.isEmpty ? 0 : 1 / Float(request.items.count).squareRoot()
            collaborative.values.withUnsafeMutableBufferPointer { c in
                svdItemFactors.values.withUnsafeBufferPointer { v in
                    let first = c.baseAddress! + u * 2 * k
                    let second = first + k
                    for item in request.items {
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
                        for item in request.items {
                            BLAS.axpy(inverseSqrtItemDegree[Int(item)] * userScale, f.baseAddress! + Int(item) * dm, row, count: dm)
                        }
                    }
                }
            }
        }
        return CNetInputs(inputActivation: h0, stepEmbedding: z, collaborative: collaborative, preferences: preferences)
    }

    /// The C-Net's last hidden layer (B x d) for a batch.
    func hiddenStates(_ requests: [ScoringRequest]) -> Matrix {
        CNet.hidden(blocks: blocks, slope: hyperparameters.leakyReluSlope, inputs(for: requests))
    }

    /// Full score vectors, `H W_out^T + b_out`, written to `out` (B x n_items, row-major).
    func scoreAll(_ requests: [ScoringRequest], into out: UnsafeMutableBufferPointer<Float>) {
        let n = itemCount
        let chunk = 256  // bounds the hidden-state memory of very large batches
        var start = 0
        while start < requests.count {
            let end = min(start + chunk, requests.count)
            let hidden = hiddenStates(Array(requests[start ..< end]))
            let rows = out.baseAddress! + start * n
            hidden.values.withUnsafeBufferPointer { h in
                output.weight.values.withUnsafeBufferPointer { w in
                    BLAS.gemmABt(h.baseAddress!, w.baseAddress!, rows, m: end - start, n: n, k: hiddenSize)
                }
            }
            output.bias.withUnsafeBufferPointer { b in
                for r in 0 ..< end - start {
                    BLAS.axpy(1, b.baseAddress!, rows + r * n, count: n)
                }
            }
            start = end
        }
    }

    /// Scores of the given item rows only: one dot product with W_out per candidate.
    func scoreCandidates(hidden: UnsafePointer<Float>, rows: [Int32], into out: UnsafeMutablePointer<Float>) {
        output.weight.values.withUnsafeBufferPointer { w in
            for (i, row) in rows.enumerated() {
                out[i] = BLAS.dot(hidden, w.baseAddress! + Int(row) * hiddenSize, count: hiddenSize) + output.bias[Int(row)]
            }
        }
    }
}
