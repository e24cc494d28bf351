#if canImport(Glibc)
import Glibc
#endif

extension DenseLayer {
    /// Adds `dW = dY^T X` and `db = column sums of dY` to `gradient`; returns `dX = dY W`
    /// when `inputGradient` is set.
    func backward(input x: Matrix, outputGradient dy: Matrix, into gradient: inout DenseLayer,
                  inputGradient: Bool) -> Matrix? {
        let batch = x.rows
        dy.values.withUnsafeBufferPointer { d in
            x.values.withUnsafeBufferPointer { xp in
                gradient.weight.values.withUnsafeMutableBufferPointer { g in
                    BLAS.gemmAtB(d.baseAddress!, xp.baseAddress!, g.baseAddress!, m: outputSize, n: inputSize, k: batch, beta: 1)
                }
            }
            gradient.bias.withUnsafeMutableBufferPointer { g in
                for r in 0 ..< batch {
                    let row = d.baseAddress! + r * outputSize
                    for c in 0 ..< outputSize { g[c] += row[c] }
                }
            }
        }
        guard inputGradient else { return nil }
        var dx = Matrix(zeros: batch, inputSize)
        dy.values.withUnsafeBufferPointer { d in
            weight.values.withUnsafeBufferPointer { w in
                dx.values.withUnsafeMutableBufferPointer { out in
                    BLAS.gemmAB(d.baseAddress!, w.baseAddress!, out.baseAddress!, m: batch, n: inputSize, k: outputSize)
                }
            }
        }
        return dx
    }
}

extension FiLMNetwork {
    /// Adds the gradients of `fc2(leaky_relu(fc1(p)))`'s weights; `hiddenPre` is fc1's
    /// output from the forward pass. (p is a condition signal: no gradient flows into it.)
    func backward(input p: Matrix, hiddenPre: Matrix, outputGradient: Matrix, slope: Float, into gradient: inout FiLMNetwork) {
        var dActivation = fc2.backward(input: hiddenPre.leakyReLU(slope: slope), outputGradient: outputGradient,
                                       into: &gradient.fc2, inputGradient: true)!
        dActivation.multiplyLeakyDerivative(at: hiddenPre, slope: slope)
        _ = fc1.backward(input: p, outputGradient: dActivation, into: &gradient.fc1, inputGradient: false)
    }
}

extension Matrix {
    /// Multiplies by the leaky ReLU's derivative at the pre-activations `pre`.
    mutating func multiplyLeakyDerivative(at pre: Matrix, slope: Float) {
        values.withUnsafeMutableBufferPointer { v in
            pre.values.withUnsafeBufferPointer { p in
                for i in v.indices where p[i] < 0 { v[i] *= slope }
            }
        }
    }
}

/// One minibatch as the C-Net sees it in training.
struct TrainingBatch {
    /// Rows of z_in of the batch's users.
    var users: [Int]
    /// The C-Net input x_t (B x n_items): noised, possibly dropped out.
    var x: Matrix
    /// The step embeddings z_t (B x d_f), before z_in[u] is added.
    var stepEmbedding: Matrix
    var collaborative: Matrix
    var preferences: [Matrix]
    /// The soft reconstruction target (B x n_items).
    var target: Matrix
    /// Per-user loss weights (importance sampling: 1 / (T p_t)).
    var lossWeights: [Float]
}

enum CNetTraining {
    /// The batch's loss (mean over users of weight x loss) and per-user unweighted losses;
    /// adds the gradients of the loss to `gradients`.
    static func lossAndGradients(_ w: TrainableWeights, slope slopeValue: Double, loss: Hyperparameters.Loss,
                                 batch: TrainingBatch, gradients g: inout TrainableWeights) -> (loss: Double, perUser: [Double]) {
        let slope = Float(slopeValue)
        let b = batch.users.count
        let n = w.output.outputSize
        let df = batch.stepEmbedding.cols

        var z = batch.stepEmbedding
        for (r, user) in batch.users.enumerated() {
            for c in 0 ..< df { z[r, c] += w.zIn[user, c] }
        }
        let inputs = CNetInputs(inputActivation: w.input.forward(batch.x), stepEmbedding: z,
                                collaborative: batch.collaborative, preferences: batch.preferences)
        var tape: [BlockTape] = []
        let hidden = withUnsafeMutablePointer(to: &tape) { CNet.hidden(blocks: w.blocks, slope: slopeValue, inputs, tape: $0) }
        let out = w.output.forward(hidden)

        // Loss and its gradient with respect to the output layer.
        var perUser = [Double](repeating: 0, count: b)
        var dOut = Matrix(zeros: b, n)
        for r in 0 ..< b {
            let weight = batch.lossWeights[r]
            let o = r * n
            switch loss {
            case .squaredError:
                var sum = 0.0
                for i in 0 ..< n {
                    let diff = out.values[o + i] - batch.target.values[o + i]
                    sum += Double(diff * diff)
                    dOut.values[o + i] = 2 * weight * diff / Float(n * b)
                }
                perUser[r] = sum / Double(n)
            case .multinomial:
                var maximum = -Float.infinity
                for i in 0 ..< n { maximum = max(maximum, out.values[o + i]) }
                var total = 0.0
                for i in 0 ..< n { total += Double(exp(out.values[o + i] - maximum)) }
                let logNormalizer = Double(maximum) + log(total)
                var targetSum: Float = 0
                var value = 0.0
                for i in 0 ..< n {
                    let t = batch.target.values[o + i]
                    targetSum += t
                    value -= Double(t) * (Double(out.values[o + i]) - logNormalizer)
                }
                for i in 0 ..< n {
                    let probability = Float(exp(Double(out.values[o + i]) - logNormalizer))
                    dOut.values[o + i] = weight * (probability * targetSum - batch.target.values[o + i]) / Float(b)
                }
                perUser[r] = value
            }
        }
        let total = zip(perUser, batch.lossWeights).reduce(0.0) { $0 + $1.0 * Double($1.1) } / Double(b)

        // Backward, layer by layer in reverse.
        var dH = w.output.backward(input: hidden, outputGradient: dOut, into: &g.output, inputGradient: true)!
        var dZ = Matrix(zeros: b, df)
        let d = hidden.cols
        for s in w.blocks.indices.reversed() {
            let t = tape[s]
            let block = w.blocks[s]
            for m in block.filmScale.indices.reversed() {
                let f = t.film[m]
                var dScale = dH
                var dInput = dH
                for i in dH.values.indices {
                    dScale.values[i] *= f.input.values[i]
                    dInput.values[i] *= f.scale.values[i]
                }
                let p = batch.preferences[m]
                block.filmScale[m].backward(input: p, hiddenPre: f.scaleHidden, outputGradient: dScale, slope: slope,
                                            into: &g.blocks[s].filmScale[m])
                block.filmShift[m].backward(input: p, hiddenPre: f.shiftHidden, outputGradient: dH, slope: slope,
                                            into: &g.blocks[s].filmShift[m])
                dH = dInput
                if m > 0 { dH.multiplyLeakyDerivative(at: t.film[m - 1].output, slope: slope) }
            }
            // CG block: h = a (1 - g) + c g, a = tanh(.), c = tanh(.), g = sigmoid(.)
            var dA = dH, dC = dH, dG = dH
            for i in dH.values.indices {
                let (a, c, gate) = (t.a.values[i], t.c.values[i], t.g.values[i])
                dA.values[i] *= (1 - gate) * (1 - a * a)
                dC.values[i] *= gate * (1 - c * c)
                dG.values[i] *= (c - a) * gate * (1 - gate)
            }
            let dHZ = block.hidden.backward(input: t.hz, outputGradient: dA, into: &g.blocks[s].hidden, inputGradient: true)!
            _ = block.condition.backward(input: batch.collaborative, outputGradient: dC, into: &g.blocks[s].condition,
                                         inputGradient: false)
            let dZGate = block.gate.backward(input: z, outputGradient: dG, into: &g.blocks[s].gate, inputGradient: true)!
            dH = Matrix(zeros: b, d)
            for r in 0 ..< b {
                for c in 0 ..< d { dH[r, c] = dHZ[r, c] }
                for c in 0 ..< df { dZ[r, c] += dHZ[r, d + c] + dZGate[r, c] }
            }
            if s > 0 { dH.multiplyLeakyDerivative(at: tape[s - 1].output, slope: slope) }
        }
        _ = w.input.backward(input: batch.x, outputGradient: dH, into: &g.input, inputGradient: false)
        for (r, user) in batch.users.enumerated() {
            for c in 0 ..< df { g.zIn[user, c] += dZ[r, c] }
        }
        return (total, perUser)
    }
}
