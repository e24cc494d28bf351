#if canImport(Glibc)
import Glibc
#endif

extension DenseLayer {
    /// `Y = X W^T + b` for a batch of rows X (B x in).
    package func forward(_ x: Matrix) -> Matrix {
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

extension Matrix {
    package mutating func addRowVector(_ vector: [Float]) {
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

    package func leakyReLU(slope: Float) -> Matrix {
        var result = self
        result.values.withUnsafeMutableBufferPointer { v in
            for i in v.indices where v[i] < 0 { v[i] *= slope }
        }
        return result
    }

    /// [self ; other] along columns.
    package func concatenatingColumns(_ other: Matrix) -> Matrix {
        var result = Matrix(zeros: rows, cols + other.cols)
        for r in 0 ..< rows {
            for c in 0 ..< cols { result[r, c] = self[r, c] }
            for c in 0 ..< other.cols { result[r, cols + c] = other[r, c] }
        }
        return result
    }
}

/// The inputs of the C-Net for a batch of B users, after its input layer.
package struct CNetInputs {
    /// `W_in x + b_in` (B x d).
    package var inputActivation: Matrix
    /// The step embedding z (B x d_f): z_t + z_in[u] in training, z_in[u] at inference.
    package var stepEmbedding: Matrix
    /// The collaborative signal c_u (B x 2k).
    package var collaborative: Matrix
    /// The modality preferences p_{u,m} (B x d_m each).
    package var preferences: [Matrix]

    package init(inputActivation: Matrix, stepEmbedding: Matrix, collaborative: Matrix, preferences: [Matrix]) {
        self.inputActivation = inputActivation
        self.stepEmbedding = stepEmbedding
        self.collaborative = collaborative
        self.preferences = preferences
    }
}

/// What the backward pass needs from the forward pass of one block.
package struct BlockTape {
    package var hz: Matrix            // [h ; z], the input of W1
    package var a: Matrix             // tanh(W1 [h; z] + b1)
    package var c: Matrix             // tanh(W2 c_u + b2)
    package var g: Matrix             // sigmoid(W3 z + b3)
    package var film: [FiLMTape]      // per modality
    package var output: Matrix        // the block's output before the activation between blocks
}

package struct FiLMTape {
    package var input: Matrix         // h entering this FiLM step
    package var scaleHidden: Matrix   // fc1 pre-activation of the scale MLP
    package var shiftHidden: Matrix   // fc1 pre-activation of the shift MLP
    package var scale: Matrix
    package var output: Matrix        // scale * h + shift, before the leaky ReLU between modalities
}

/// The C-Net of docs/MODEL.md from the input layer's output to the last hidden layer.
/// Serving and training run this same code; training passes a tape to record what the
/// backward pass needs. The output layer is applied by the caller: a GEMM for full score
/// vectors, or dot products for a few candidates.
package enum CNet {
    package static func hidden(blocks: [CNetBlock], slope: Double, _ inputs: CNetInputs, tape: UnsafeMutablePointer<[BlockTape]>? = nil) -> Matrix {
        let slope = Float(slope)
        var h = inputs.inputActivation
        let z = inputs.stepEmbedding
        for (s, block) in blocks.enumerated() {
            if s > 0 { h = h.leakyReLU(slope: slope) }
            // CG block (Eq. 18-20): h = tanh(W1 [h; z] + b1) * (1 - g) + tanh(W2 c + b2) * g
            let hz = h.concatenatingColumns(z)
            var a = block.hidden.forward(hz)
            var c = block.condition.forward(inputs.collaborative)
            var g = block.gate.forward(z)
            var mixed = a
            a.values.withUnsafeMutableBufferPointer { a in
                c.values.withUnsafeMutableBufferPointer { c in
                    g.values.withUnsafeMutableBufferPointer { g in
                        mixed.values.withUnsafeMutableBufferPointer { m in
                            for i in a.indices {
                                a[i] = tanh(a[i])
                                c[i] = tanh(c[i])
                                g[i] = 1 / (1 + exp(-g[i]))
                                m[i] = a[i] * (1 - g[i]) + c[i] * g[i]
                            }
                        }
                    }
                }
            }
            h = mixed
            // PG block (Eq. 21-22): one FiLM step per modality, leaky ReLU between them.
            var filmTapes: [FiLMTape] = []
            for m in block.filmScale.indices {
                if m > 0 { h = h.leakyReLU(slope: slope) }
                let p = inputs.preferences[m]
                let scaleHidden = block.filmScale[m].fc1.forward(p)
                let shiftHidden = block.filmShift[m].fc1.forward(p)
                let scale = block.filmScale[m].fc2.forward(scaleHidden.leakyReLU(slope: slope))
                let shift = block.filmShift[m].fc2.forward(shiftHidden.leakyReLU(slope: slope))
                var out = shift
                for i in out.values.indices { out.values[i] += scale.values[i] * h.values[i] }
                if tape != nil {
                    filmTapes.append(FiLMTape(input: h, scaleHidden: scaleHidden, shiftHidden: shiftHidden,
                                              scale: scale, output: out))
                }
                h = out
            }
            tape?.pointee.append(BlockTape(hz: hz, a: a, c: c, g: g, film: filmTapes, output: h))
        }
        return h
    }
}
