#if canImport(Glibc)
import Glibc
#endif

extension DenseLayer {
    /// `Y = X W^T + b` for a batch of rows X (B x in).
    func forward(_ x: Matrix) -> Matrix {
        var y = Matrix(zeros: x.rows, outputSize)
        x.values.withUnsafeBufferPointer { xp in
            weight.values.withUnsafeBufferPointer { wp in
                y.values.withUnsafeMutableBufferPointer { yp in
                    BLAS.gemmABt(xp.baseAddress!, wp.baseAddress!, yp.baseAddress!, m: x.rows, n: outputSize, k: inputSize)
                }
            }
        }
        y.addRowVector(bias)
        return y
    }
}

extension FiLMNetwork {
    /// `fc2(leaky_relu(fc1(p)))`
    func forward(_ p: Matrix, slope: Float) -> Matrix {
        var hidden = fc1.forward(p)
        hidden.applyLeakyReLU(slope: slope)
        return fc2.forward(hidden)
    }
}

extension Matrix {
    mutating func addRowVector(_ vector: [Float]) {
        let cols = self.cols
        values.withUnsafeMutableBufferPointer { v in
            vector.withUnsafeBufferPointer { b in
                for r in 0 ..< rows {
                    let row = v.baseAddress! + r * cols
                    for c in 0 ..< cols { row[c] += b[c] }
                }
            }
        }
    }

    mutating func applyLeakyReLU(slope: Float) {
        values.withUnsafeMutableBufferPointer { v in
            for i in v.indices where v[i] < 0 { v[i] *= slope }
        }
    }

    /// [self ; other] along columns.
    func concatenatingColumns(_ other: Matrix) -> Matrix {
        var result = Matrix(zeros: rows, cols + other.cols)
        for r in 0 ..< rows {
            for c in 0 ..< cols { result[r, c] = self[r, c] }
            for c in 0 ..< other.cols { result[r, cols + c] = other[r, c] }
        }
        return result
    }
}

/// The inputs of the C-Net for a batch of B users, after its input layer.
struct CNetInputs {
    /// `W_in x + b_in` (B x d).
    var inputActivation: Matrix
    /// The step embedding z (B x d_f): z_in[u] at inference.
    var stepEmbedding: Matrix
    /// The collaborative signal c_u (B x 2k).
    var collaborative: Matrix
    /// The modality preferences p_{u,m} (B x d_m each).
    var preferences: [Matrix]
}

/// The C-Net of docs/MODEL.md from the input layer's output to the last hidden layer.
/// The output layer is applied by the caller: as a GEMM for full score vectors, or as
/// dot products for a few candidates.
enum CNet {
    static func hidden(blocks: [CNetBlock], slope: Double, _ inputs: CNetInputs) -> Matrix {
        let slope = Float(slope)
        var h = inputs.inputActivation
        let z = inputs.stepEmbedding
        for (s, block) in blocks.enumerated() {
            // CG block (Eq. 18-20): h = tanh(W1 [h; z] + b1) * (1 - g) + tanh(W2 c + b2) * g
            var a = block.hidden.forward(h.concatenatingColumns(z))
            var c = block.condition.forward(inputs.collaborative)
            var g = block.gate.forward(z)
            a.values.withUnsafeMutableBufferPointer { a in
                c.values.withUnsafeMutableBufferPointer { c in
                    g.values.withUnsafeMutableBufferPointer { g in
                        for i in a.indices {
                            let gate = 1 / (1 + exp(-g[i]))
                            a[i] = tanh(a[i]) * (1 - gate) + tanh(c[i]) * gate
                        }
                    }
                }
            }
            h = a
            // PG block (Eq. 21-22): one FiLM step per modality.
            for m in block.filmScale.indices {
                let scale = block.filmScale[m].forward(inputs.preferences[m], slope: slope)
                let shift = block.filmShift[m].forward(inputs.preferences[m], slope: slope)
                for i in h.values.indices { h.values[i] = scale.values[i] * h.values[i] + shift.values[i] }
                if m < block.filmScale.count - 1 { h.applyLeakyReLU(slope: slope) }
            }
            if s < blocks.count - 1 { h.applyLeakyReLU(slope: slope) }
        }
        return h
    }
}
