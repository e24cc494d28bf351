import LD4MRecCore

/// One user to score: the rows of their history's items (sorted, unique) and their row of
/// z_in (nil: z_in_default).
struct ScoringRequest: Sendable {
    var items: [Int32]
    var userRow: Int?
}

extension Model {
    /// The C-Net inputs of a batch of histories: the input layer as a gather over each
    /// history's items, the step embedding z_in[u], and the condition signals.
    func inputs(for requests: [ScoringRequest]) -> CNetInputs {
        let b = requests.count
        let (d, df) = (hiddenSize, hyperparameters.stepEmbeddingSize)
        var h0 = Matrix(zeros: b, d)
        var z = Matrix(zeros: b, df)
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
        }
        let (collaborative, preferences) = signals.compute(requests.map(\.items))
        return CNetInputs(inputActivation: h0, stepEmbedding: z, collaborative: collaborative, preferences: preferences)
    }

    /// The C-Net's last hidden layer (B x d) for a batch.
    func hiddenStates(_ requests: [ScoringRequest]) -> Matrix {
        CNet.hidden(blocks: blocks, slope: hyperparameters.leakyReluSlope, inputs(for: requests))
    }

    /// Full score vectors, `a (H W_out^T + b_out) + b x_in B` (the C-Net mixed with the
    /// item-item prior, if any), written to `out` (B x n_items, row-major).
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
                    let row = rows + r * n
                    BLAS.axpy(1, b.baseAddress!, row, count: n)
                    if cnetScale != 1 { BLAS.scale(cnetScale, row, count: n) }
                    if let itemItem, itemItemScale != 0 {
                        itemItem.values.withUnsafeBufferPointer { prior in
                            for item in requests[start + r].items {
                                BLAS.axpy(itemItemScale, prior.baseAddress! + Int(item) * n, row, count: n)
                            }
                        }
                    }
                }
            }
            start = end
        }
    }

    /// Scores of the given item rows only: one dot product with W_out per candidate, plus
    /// the prior's entries of the history's rows.
    func scoreCandidates(hidden: UnsafePointer<Float>, request: ScoringRequest, rows: [Int32],
                         into out: UnsafeMutablePointer<Float>) {
        let n = itemCount
        output.weight.values.withUnsafeBufferPointer { w in
            for (i, row) in rows.enumerated() {
                let cnet = BLAS.dot(hidden, w.baseAddress! + Int(row) * hiddenSize, count: hiddenSize) + output.bias[Int(row)]
                var prior: Float = 0
                if let itemItem, itemItemScale != 0 {
                    for item in request.items { prior += itemItem.values[Int(item) * n + Int(row)] }
                }
                out[i] = cnetScale * cnet + itemItemScale * prior
            }
        }
    }
}
