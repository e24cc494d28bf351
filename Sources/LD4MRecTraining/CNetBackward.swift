import LD4MRecCore

// The C-Net's backward pass, written to mirror its forward pass (`CNet.hidden`) step by
// step: dense layers, FiLM steps, CG blocks, then the whole network with its loss.

extension DenseLayer {
    /// Adds `dW = dY^T X` and `db = column sums of dY` to `gradient`.
    func accumulateGradients(input x: Matrix, outputGradient dy: Matrix, into gradient: inout DenseLayer) {
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
    }

    /// `dX = dY W`.
    func inputGradient(_ dy: Matrix) -> Matrix {
        var dx = Matrix(zeros: dy.rows, inputSize)
        dy.values.withUnsafeBufferPointer { d in
            weight.values.withUnsafeBufferPointer { w in
                dx.values.withUnsafeMutableBufferPointer { out in
                    BLAS.gemmAB(d.baseAddress!, w.baseAddress!, out.baseAddress!, m: dy.rows, n: inputSize, k: outputSize)
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
        let activation = hiddenPre.leakyReLU(slope: slope)
        fc2.accumulateGradients(input: activation, outputGradient: outputGradient, into: &gradient.fc2)
        var dActivation = fc2.inputGradient(outputGradient)
        dActivation.multiplyLeakyDerivative(at: hiddenPre, slope: slope)
        fc1.accumulateGradients(input: p, outputGradient: dActivation, into: &gradient.fc1)
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

extension CNetBlock {
    /// The backward pass of one block: from `dH`, the gradient at the block's output
    /// (after its FiLM steps), adds the block's weight gradients to `gradient` and the
    /// step embedding's to `dZ`, and returns the gradient at the block's input h.
    func backward(_ tape: BlockTape, outputGradient dH: Matrix, z: Matrix, inputs: CNetInputs, slope: Float,
                  into gradient: inout CNetBlock, stepEmbeddingGradient dZ: inout Matrix) -> Matrix {
        // PG block, last modality first: h_out = scale * h_in + shift.
        var dH = dH
        for m in filmScale.indices.reversed() {
            let film = tape.film[m]
            var dScale = dH
            var dInput = dH
            for i in dH.values.indices {
                dScale.values[i] *= film.input.values[i]
                dInput.values[i] *= film.scale.values[i]
            }
            let p = inputs.preferences[m]
            filmScale[m].backward(input: p, hiddenPre: film.scaleHidden, outputGradient: dScale, slope: slope,
                                  into: &gradient.filmScale[m])
            filmShift[m].backward(input: p, hiddenPre: film.shiftHidden, outputGradient: dH, slope: slope,
                                  into: &gradient.filmShift[m])
            dH = dInput
            if m > 0 { dH.multiplyLeakyDerivative(at: tape.film[m - 1].output, slope: slope) }
        }
        // CG block: h = a (1 - g) + c g, a = tanh(.), c = tanh(.), g = sigmoid(.).
        var dA = dH, dC = dH, dG = dH
        for i in dH.values.indices {
            let (a, c, gate) = (tape.a.values[i], tape.c.values[i], tape.g.values[i])
            dA.values[i] *= (1 - gate) * (1 - a * a)
            dC.values[i] *= gate * (1 - c * c)
            dG.values[i] *= (c - a) * gate * (1 - gate)
        }
        hidden.accumulateGradients(input: tape.hz, outputGradient: dA, into: &gradient.hidden)
        condition.accumulateGradients(input: inputs.collaborative, outputGradient: dC, into: &gradient.condition)
        gate.accumulateGradients(input: z, outputGradient: dG, into: &gradient.gate)
        let dHZ = hidden.inputGradient(dA)
        let dZGate = gate.inputGradient(dG)
        // [h ; z] splits back into h and z.
        let (b, d, df) = (dH.rows, dH.cols, z.cols)
        var dInput = Matrix(zeros: b, d)
        for r in 0 ..< b {
            for c in 0 ..< d { dInput[r, c] = dHZ[r, c] }
            for c in 0 ..< df { dZ[r, c] += dHZ[r, d + c] + dZGate[r, c] }
        }
        return dInput
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
        let df = batch.stepEmbedding.cols

        // Forward, recording what the backward pass needs.
        var z = batch.stepEmbedding
        for (r, user) in batch.users.enumerated() {
            for c in 0 ..< df { z[r, c] += w.zIn[user, c] }
        }
        let inputs = CNetInputs(inputActivation: w.input.forward(batch.x), stepEmbedding: z,
                                collaborative: batch.collaborative, preferences: batch.preferences)
        var tape: [BlockTape] = []
        let hidden = withUnsafeMutablePointer(to: &tape) { CNet.hidden(blocks: w.blocks, slope: slopeValue, inputs, tape: $0) }
        let out = w.output.forward(hidden)
        let (total, perUser, dOut) = loss.evaluate(out, target: batch.target, weights: batch.lossWeights)

        // Backward, layer by layer in reverse.
        w.output.accumulateGradients(input: hidden, outputGradient: dOut, into: &g.output)
        var dH = w.output.inputGradient(dOut)
        var dZ = Matrix(zeros: batch.users.count, df)
        for s in w.blocks.indices.reversed() {
            dH = w.blocks[s].backward(tape[s], outputGradient: dH, z: z, inputs: inputs, slope: slope,
                                      into: &g.blocks[s], stepEmbeddingGradient: &dZ)
            if s > 0 { dH.multiplyLeakyDerivative(at: tape[s - 1].output, slope: slope) }
        }
        w.input.accumulateGradients(input: batch.x, outputGradient: dH, into: &g.input)
        for (r, user) in batch.users.enumerated() {
            for c in 0 ..< df { g.zIn[user, c] += dZ[r, c] }
        }
        return (total, perUser)
    }
}
