#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore

/// Everything one training step reads and writes besides the parameters, allocated once
/// for batches of up to `capacity` users: the batch (x_t, the condition signals, z, the
/// sparse soft target), what the forward pass records for the backward pass, and the
/// backward pass's temporaries. Nothing is allocated per step.
///
/// h lives in rows of `width` floats (d + d_f rounded up to a cache line) whose tail
/// holds z, so that W1 reads [h ; z] in place: `hz[s]` is the input of block s and
/// `hz[S]` the last hidden layer.
final class TrainingWorkspace: @unchecked Sendable {
    typealias Buffer = AlignedBuffer<Float>

    let capacity, items, hidden, stepSize, width, signalSize, filmWidth: Int
    let dims: [Int]

    // The batch.
    let x: Buffer
    let collaborative: Buffer
    let preferences: [Buffer]
    var rows = 0
    /// Rows of z_in of the batch's users.
    var users: [Int] = []
    var lossWeights: [Float] = []
    /// The soft target, sparse: user r's nonzero entries are items[offsets[r] ..< offsets[r + 1]].
    var targetOffsets: [Int] = [0]
    var targetItems: [Int32] = []
    var targetValues: [Float] = []

    // The forward pass.
    let hz: [Buffer]
    let a, c, g: [Buffer]
    let blockOutput: [Buffer]
    /// Per block and modality: the FiLM networks' hidden pre-activations and activations,
    /// their outputs, and h entering (`filmInput`) and leaving (`filmOutput`) the step.
    let scaleHidden, shiftHidden, scaleActivation, shiftActivation: [[Buffer]]
    let scale, shift, filmInput, filmOutput: [[Buffer]]
    /// The scores, then their gradient.
    let out: Buffer
    /// Each user's unweighted loss (members write their users').
    let perUser: AlignedBuffer<Double>

    // The backward pass.
    let dH: [Buffer]            // two, alternating; rows of `width`
    let dScale, dNext, dA, dC, dG: Buffer
    let dScaleHidden, dShiftHidden: Buffer
    let dZGate: Buffer
    let dZ: Buffer
    /// With hidden dropout, each row's mask of the last hidden layer: 0 or 1 / (1 - p).
    let hiddenMask: Buffer?

    init(_ layout: ParameterLayout, capacity: Int, hiddenDropout: Bool) throws {
        let (n, d, df) = (layout.output.outputs, layout.input.outputs, layout.zIn.cols)
        let width = AlignedBuffer<Float>.paddedCount(d + df)
        let signalSize = layout.blocks.first?.condition.inputs ?? 0
        let filmWidth = layout.blocks.first?.scale.first?.fc1.outputs ?? 0
        let dims = layout.blocks.first?.scale.map(\.fc1.inputs) ?? []
        let (blocks, modalities) = (layout.blocks.count, dims.count)
        func buffer(_ cols: Int) throws -> Buffer {
            try Buffer(uninitialized: checkedProduct([capacity, cols], what: "training buffer"), hugePages: true)
        }
        func perBlock(_ cols: Int) throws -> [Buffer] { try (0 ..< blocks).map { _ in try buffer(cols) } }
        func perFiLM(_ cols: Int) throws -> [[Buffer]] {
            try (0 ..< blocks).map { _ in try (0 ..< modalities).map { _ in try buffer(cols) } }
        }
        (self.capacity, items, hidden, stepSize, self.width) = (capacity, n, d, df, width)
        (self.signalSize, self.filmWidth, self.dims) = (signalSize, filmWidth, dims)
        x = try buffer(n)
        collaborative = try buffer(signalSize)
        preferences = try dims.map(buffer)
        hz = try (0 ... blocks).map { _ in try buffer(width) }
        (a, c, g, blockOutput) = try (perBlock(d), perBlock(d), perBlock(d), perBlock(d))
        (scaleHidden, shiftHidden) = try (perFiLM(filmWidth), perFiLM(filmWidth))
        (scaleActivation, shiftActivation) = try (perFiLM(filmWidth), perFiLM(filmWidth))
        (scale, shift, filmInput, filmOutput) = try (perFiLM(d), perFiLM(d), perFiLM(d), perFiLM(d))
        out = try buffer(n)
        perUser = try AlignedBuffer(uninitialized: capacity)
        dH = try [buffer(width), buffer(width)]
        (dScale, dNext, dA, dC, dG) = try (buffer(d), buffer(d), buffer(d), buffer(d), buffer(d))
        (dScaleHidden, dShiftHidden) = try (buffer(filmWidth), buffer(filmWidth))
        dZGate = try buffer(df)
        dZ = try buffer(df)
        hiddenMask = hiddenDropout ? try buffer(d) : nil
    }

    /// z of user r (z_t + z_in[u] in training), in the tail of every hz row.
    func setZ(row r: Int, _ z: UnsafePointer<Float>) {
        for buffer in hz { (buffer.pointer + r * width + hidden).update(from: z, count: stepSize) }
    }
}

/// One step of Algorithm 1 on a batch already in the workspace: the forward pass, the
/// loss and its gradient, the backward pass into `gradients`. Every member of a team
/// calls it; members split each matrix product in fixed blocks of rows (so the results do
/// not depend on the team's size) and the elementwise work with them, meeting at barriers.
/// Work placed just before a barrier whose phase is split statically (the output layer's
/// products, the branches that do not depend on h) is instead claimed unit by unit by
/// whichever member is free, so that a member slowed by the host does not hold up the other.
/// Returns (on rank 0) the batch's loss: the mean over users of weight x loss.
struct TrainingStep {
    let weights: ParameterVector
    let gradients: ParameterVector
    let workspace: TrainingWorkspace
    let slope: Float
    let loss: Hyperparameters.Loss
    /// The blocks of item rows of the output layer's product and of its weight gradient;
    /// the forward pass's branches that do not depend on h.
    let outputBlocks: SharedUnits
    let outputGradientBlocks: SharedUnits
    let branchUnits: SharedUnits

    init(weights: ParameterVector, gradients: ParameterVector, workspace: TrainingWorkspace, slope: Float,
         loss: Hyperparameters.Loss) {
        self.weights = weights
        self.gradients = gradients
        self.workspace = workspace
        self.slope = slope
        self.loss = loss
        let blocks = (workspace.items + Self.block - 1) / Self.block
        (outputBlocks, outputGradientBlocks) = (SharedUnits(count: blocks), SharedUnits(count: blocks))
        let cgBlocks = weights.layout.blocks.count
        branchUnits = SharedUnits(count: cgBlocks * Self.columnBlocks(workspace) + cgBlocks * workspace.dims.count * 2)
    }

    /// Blocks of hidden columns.
    private static func columnBlocks(_ workspace: TrainingWorkspace) -> Int { (workspace.hidden + block - 1) / block }

    /// Products are split in blocks of this many output rows or columns.
    static let block = 512
    /// Products split by users (the batch's rows) take blocks of this many.
    static let userBlock = 64

    func run(_ team: Team) -> Double {
        forward(team)
        team.barrier()
        let total = lossAndGradient(team)
        team.barrier()
        backward(team)
        return total
    }

    // MARK: Forward

    func forward(_ team: Team) {
        let (w, ws, L) = (weights, workspace, weights.layout)
        let (b, n, d, width) = (ws.rows, ws.items, ws.hidden, ws.width)
        let cols = team.share(of: d, granule: Self.block)

        // The input layer: h0 = x_t W_in^T + b_in.
        multiply(ws.x.pointer, n, w, L.input, rows: cols, into: ws.hz[0].pointer, ldc: width, b)
        // The branches that do not depend on h, in units any member claims (which evens out
        // the input layer before them): the condition and the gate of each CG block, a block
        // of columns at a time, and the first layers of the FiLM networks (h_mlp rows, too
        // few to split: whole networks).
        let columnBlocks = Self.columnBlocks(ws)
        while let unit = branchUnits.claim() {
            if unit < L.blocks.count * columnBlocks {
                let (s, c) = unit.quotientAndRemainder(dividingBy: columnBlocks)
                let part = c * Self.block ..< min(d, (c + 1) * Self.block)
                multiply(ws.collaborative.pointer, ws.signalSize, w, L.blocks[s].condition, rows: part, into: ws.c[s].pointer, ldc: d, b)
                multiply(ws.hz[0].pointer + d, width, w, L.blocks[s].gate, rows: part, into: ws.g[s].pointer, ldc: d, b)
                for r in 0 ..< b {
                    Kernels.tanh(ws.c[s].pointer + r * d + part.lowerBound, count: part.count)
                    Kernels.sigmoid(ws.g[s].pointer + r * d + part.lowerBound, count: part.count)
                }
            } else {
                let (film, isShift) = (unit - L.blocks.count * columnBlocks).quotientAndRemainder(dividingBy: 2)
                let (s, m) = film.quotientAndRemainder(dividingBy: ws.dims.count)
                let block = L.blocks[s]
                let (network, pre, activation) = isShift == 1 ? (block.shift[m], ws.shiftHidden[s][m], ws.shiftActivation[s][m])
                                                              : (block.scale[m], ws.scaleHidden[s][m], ws.scaleActivation[s][m])
                multiply(ws.preferences[m].pointer, ws.dims[m], w, network.fc1, rows: 0 ..< ws.filmWidth, into: pre.pointer,
                         ldc: ws.filmWidth, b)
                for r in 0 ..< b {
                    let offset = r * ws.filmWidth
                    for i in 0 ..< ws.filmWidth { activation.pointer[offset + i] = leaky(pre.pointer[offset + i]) }
                }
            }
        }
        team.barrier()
        for (s, block) in L.blocks.enumerated() {
            for m in ws.dims.indices {
                multiply(ws.scaleActivation[s][m].pointer, ws.filmWidth, w, block.scale[m].fc2, rows: cols,
                         into: ws.scale[s][m].pointer, ldc: d, b)
                multiply(ws.shiftActivation[s][m].pointer, ws.filmWidth, w, block.shift[m].fc2, rows: cols,
                         into: ws.shift[s][m].pointer, ldc: d, b)
            }
        }
        team.barrier()

        // The blocks: h = tanh(W1 [h ; z] + b1) (1 - g) + c g, then the FiLM steps.
        for (s, block) in L.blocks.enumerated() {
            multiply(ws.hz[s].pointer, width, w, block.hidden, rows: cols, into: ws.a[s].pointer, ldc: d, b)
            let filmIn: [UnsafeMutablePointer<Float>?] = ws.filmInput[s].map(\.pointer)
            let filmOut: [UnsafeMutablePointer<Float>?] = ws.filmOutput[s].map(\.pointer)
            let scales: [UnsafePointer<Float>?] = ws.scale[s].map { UnsafePointer($0.pointer) }
            let shifts: [UnsafePointer<Float>?] = ws.shift[s].map { UnsafePointer($0.pointer) }
            let (aBase, cBase, gBase, output) = (ws.a[s].pointer, ws.c[s].pointer, ws.g[s].pointer, ws.blockOutput[s].pointer)
            let last = s == L.blocks.count - 1
            for r in 0 ..< b {
                let o = r * d + cols.lowerBound
                Kernels.tanh(aBase + o, count: cols.count)
                Kernels.blockForward(aBase + o, cBase + o, gate: gBase + o, scales: scales, shifts: shifts, filmInputs: filmIn,
                                     filmOutputs: filmOut, offset: o, into: output + o,
                                     next: ws.hz[s + 1].pointer + r * width + cols.lowerBound, last: last, slope: slope,
                                     count: cols.count)
            }
            team.barrier()
        }

        // Hidden dropout: each member masks its columns of the last hidden layer.
        if let mask = ws.hiddenMask {
            let last = ws.hz[L.blocks.count].pointer
            for r in 0 ..< b { Kernels.multiply(last + r * width + cols.lowerBound, by: mask.pointer + r * d + cols.lowerBound, count: cols.count) }
            team.barrier()
        }
        // The output layer.
        while let unit = outputBlocks.claim() {
            multiply(ws.hz[L.blocks.count].pointer, width, w, L.output, rows: itemBlock(unit), into: ws.out.pointer, ldc: n, b)
        }
    }

    /// Block `unit` of the item rows.
    private func itemBlock(_ unit: Int) -> Range<Int> { unit * Self.block ..< min(workspace.items, (unit + 1) * Self.block) }

    /// `C[:, rows] = X W[rows]^T + b[rows]` for a dense slot, in fixed blocks of rows.
    private func multiply(_ x: UnsafePointer<Float>, _ ldx: Int, _ w: ParameterVector, _ layer: DenseSlot, rows: Range<Int>,
                          into c: UnsafeMutablePointer<Float>, ldc: Int, _ batch: Int) {
        forEachBlock(of: rows, size: Self.block) { part in
            BLAS.gemm(transposeA: false, transposeB: true, m: batch, n: part.count, k: layer.inputs, x, lda: ldx,
                      w[layer.weight] + part.lowerBound * layer.inputs, ldb: layer.inputs, c + part.lowerBound, ldc: ldc)
        }
        let bias = w[layer.bias]
        for r in 0 ..< batch { Kernels.add(bias + rows.lowerBound, to: c + r * ldc + rows.lowerBound, count: rows.count) }
    }

    // MARK: Loss

    /// Each member takes its users; rank 0 adds up the batch's loss. The scores `out`
    /// become the loss's gradient in place.
    private func lossAndGradient(_ team: Team) -> Double {
        let ws = workspace
        let (b, n) = (ws.rows, ws.items)
        for r in team.share(of: b) {
            let row = ws.out.pointer + r * n
            let weight = ws.lossWeights[r]
            let entries = ws.targetOffsets[r] ..< ws.targetOffsets[r + 1]
            switch loss {
            case .squaredError:
                // (x - t)^2 summed over all items: sum x^2, corrected where t != 0.
                var sum = 0.0
                for e in entries {
                    let (x, t) = (row[Int(ws.targetItems[e])], ws.targetValues[e])
                    sum += Double((x - t) * (x - t) - x * x)
                }
                let c = 2 * weight / Float(n * b)
                for i in 0 ..< n {
                    sum += Double(row[i] * row[i])
                    row[i] *= c
                }
                for e in entries { row[Int(ws.targetItems[e])] -= c * ws.targetValues[e] }
                ws.perUser.pointer[r] = sum / Double(n)
            case .multinomial:
                // -sum t_i log softmax(x)_i = sum t_i (logZ - x_i); the gradient is
                // (softmax(x) sum t - t) weight / B.
                var maximum = -Float.infinity
                for i in 0 ..< n { maximum = max(maximum, row[i]) }
                var targetScores = 0.0, targetSum: Float = 0
                for e in entries {
                    targetScores += Double(ws.targetValues[e]) * Double(row[Int(ws.targetItems[e])])
                    targetSum += ws.targetValues[e]
                }
                for i in 0 ..< n { row[i] -= maximum }
                Kernels.exp(row, count: n)
                var total = 0.0
                for i in 0 ..< n { total += Double(row[i]) }
                ws.perUser.pointer[r] = (Double(maximum) + log(total)) * Double(targetSum) - targetScores
                let scale = weight * targetSum / Float(total) / Float(b)
                for i in 0 ..< n { row[i] *= scale }
                for e in entries { row[Int(ws.targetItems[e])] -= weight * ws.targetValues[e] / Float(b) }
            }
        }
        team.barrier()
        guard team.rank == 0 else { return 0 }
        return (0 ..< b).reduce(0.0) { $0 + ws.perUser.pointer[$1] * Double(ws.lossWeights[$1]) } / Double(b)
    }

    // MARK: Backward

    private func backward(_ team: Team) {
        let (w, grad, ws, L) = (weights, gradients, workspace, weights.layout)
        let (b, n, d, width) = (ws.rows, ws.items, ws.hidden, ws.width)
        let cols = team.share(of: d, granule: Self.block)
        let userBlocks = team.share(of: b, granule: Self.userBlock)
        let S = L.blocks.count

        // The output layer: dh = dOut W_out here, dW_out at the end.
        var dH = ws.dH[0].pointer
        inputGradient(ws.out.pointer, n, w, L.output, columns: cols, into: dH, ldc: width, b)
        if let mask = ws.hiddenMask {
            for r in 0 ..< b { Kernels.multiply(dH + r * width + cols.lowerBound, by: mask.pointer + r * d + cols.lowerBound, count: cols.count) }
        }

        var current = 0
        for s in (0 ..< S).reversed() {
            let block = L.blocks[s]
            // Each member holds its columns of dH: the elementwise steps need no barrier.
            if s < S - 1 { multiplyLeakyDerivative(dH, width, ws.blockOutput[s].pointer, d, cols, b) }
            for m in ws.dims.indices.reversed() {
                // h_out = scale * h_in + shift.
                for r in 0 ..< b {
                    let (o, oh) = (r * d + cols.lowerBound, r * width + cols.lowerBound)
                    Kernels.filmBackward(dH + oh, input: ws.filmInput[s][m].pointer + o, scale: ws.scale[s][m].pointer + o,
                                         dScale: ws.dScale.pointer + o, dInput: ws.dNext.pointer + o, count: cols.count)
                }
                weightGradient(ws.dScale.pointer, d, ws.scaleActivation[s][m].pointer, ws.filmWidth, block.scale[m].fc2,
                               rows: cols, b)
                weightGradient(dH, width, ws.shiftActivation[s][m].pointer, ws.filmWidth, block.shift[m].fc2, rows: cols, b)
                team.barrier()
                let networks = [
                    (block.scale[m], ws.dScale.pointer, d, ws.scaleHidden[s][m].pointer, ws.dScaleHidden.pointer),
                    (block.shift[m], dH, width, ws.shiftHidden[s][m].pointer, ws.dShiftHidden.pointer),
                ]
                // The hidden layers' gradients have too few columns (h_mlp) to split: members
                // take blocks of users instead, then the first layers' weights.
                for (network, dOut, ldOut, pre, dHidden) in networks {
                    forEachBlock(of: userBlocks, size: Self.userBlock) { users in
                        let (first, count) = (users.lowerBound, users.count)
                        inputGradient(dOut + first * ldOut, ldOut, w, network.fc2, columns: 0 ..< ws.filmWidth,
                                      into: dHidden + first * ws.filmWidth, ldc: ws.filmWidth, count)
                        multiplyLeakyDerivative(dHidden + first * ws.filmWidth, ws.filmWidth, pre + first * ws.filmWidth,
                                                ws.filmWidth, 0 ..< ws.filmWidth, count)
                    }
                }
                team.barrier()
                for (j, (network, _, _, _, dHidden)) in networks.enumerated() where team.takes(network: (s * ws.dims.count + m) * 2 + j) {
                    weightGradient(dHidden, ws.filmWidth, ws.preferences[m].pointer, ws.dims[m], network.fc1,
                                   rows: 0 ..< ws.filmWidth, b)
                }
                team.barrier()
                for r in 0 ..< b {
                    (dH + r * width + cols.lowerBound).update(from: ws.dNext.pointer + r * d + cols.lowerBound, count: cols.count)
                }
                if m > 0 { multiplyLeakyDerivative(dH, width, ws.filmOutput[s][m - 1].pointer, d, cols, b) }
            }
            // CG block: h = a (1 - g) + c g with a = tanh(.), c = tanh(.), g = sigmoid(.).
            for r in 0 ..< b {
                let (o, oh) = (r * d + cols.lowerBound, r * width + cols.lowerBound)
                Kernels.gateMixBackward(ws.a[s].pointer + o, ws.c[s].pointer + o, gate: ws.g[s].pointer + o, dh: dH + oh,
                                        dA: ws.dA.pointer + o, dC: ws.dC.pointer + o, dG: ws.dG.pointer + o, count: cols.count)
            }
            weightGradient(ws.dA.pointer, d, ws.hz[s].pointer, width, block.hidden, rows: cols, b)
            weightGradient(ws.dC.pointer, d, ws.collaborative.pointer, ws.signalSize, block.condition, rows: cols, b)
            weightGradient(ws.dG.pointer, d, ws.hz[0].pointer + d, width, block.gate, rows: cols, b)
            team.barrier()
            // d[h ; z] = dA W1 (the next dH and part of dz), and dz from the gate.
            current ^= 1
            dH = ws.dH[current].pointer
            let inputColumns = team.share(of: d + ws.stepSize, granule: Self.block)
            inputGradient(ws.dA.pointer, d, w, block.hidden, columns: inputColumns, into: dH, ldc: width, b)
            if team.rank == 0 {
                inputGradient(ws.dG.pointer, d, w, block.gate, columns: 0 ..< ws.stepSize, into: ws.dZGate.pointer,
                              ldc: ws.stepSize, b)
            }
            team.barrier()
            if team.rank == 0 {
                for r in 0 ..< b {
                    for j in 0 ..< ws.stepSize {
                        let gradient = dH[r * width + d + j] + ws.dZGate.pointer[r * ws.stepSize + j]
                        ws.dZ.pointer[r * ws.stepSize + j] = (s == S - 1 ? 0 : ws.dZ.pointer[r * ws.stepSize + j]) + gradient
                    }
                }
            }
        }
        // The input layer: dW_in = dh0^T x_t (no gradient flows into x_t).
        weightGradient(dH, width, ws.x.pointer, n, L.input, rows: cols, b)
        // dW_out = dOut^T h, in blocks the members claim: the faster one takes more of them,
        // which evens out the input layer's gradient before it (split by columns).
        while let unit = outputGradientBlocks.claim() {
            weightGradient(ws.out.pointer, n, ws.hz[S].pointer, width, L.output, rows: itemBlock(unit), b)
        }
        team.barrier()
        // z = z_t + z_in[u].
        if team.rank == 0 {
            let zIn = grad[L.zIn]
            for (r, user) in ws.users.prefix(b).enumerated() {
                for j in 0 ..< ws.stepSize { zIn[user * ws.stepSize + j] += ws.dZ.pointer[r * ws.stepSize + j] }
            }
        }
    }

    /// `dW[rows] = dY[:, rows]^T X`, `db[rows] = column sums of dY[:, rows]` (overwritten:
    /// every layer is used once per step).
    private func weightGradient(_ dy: UnsafePointer<Float>, _ lddy: Int, _ x: UnsafePointer<Float>, _ ldx: Int,
                                _ layer: DenseSlot, rows: Range<Int>, _ batch: Int) {
        forEachBlock(of: rows, size: Self.block) { part in
            BLAS.gemm(transposeA: true, transposeB: false, m: part.count, n: layer.inputs, k: batch, dy + part.lowerBound,
                      lda: lddy, x, ldb: ldx, gradients[layer.weight] + part.lowerBound * layer.inputs, ldc: layer.inputs)
        }
        let bias = gradients[layer.bias]
        (bias + rows.lowerBound).update(repeating: 0, count: rows.count)
        for r in 0 ..< batch { Kernels.add(dy + r * lddy + rows.lowerBound, to: bias + rows.lowerBound, count: rows.count) }
    }

    /// `dX[:, columns] = dY W[:, columns]`.
    private func inputGradient(_ dy: UnsafePointer<Float>, _ lddy: Int, _ w: ParameterVector, _ layer: DenseSlot,
                               columns: Range<Int>, into dx: UnsafeMutablePointer<Float>, ldc: Int, _ batch: Int) {
        forEachBlock(of: columns, size: Self.block) { part in
            BLAS.gemm(transposeA: false, transposeB: false, m: batch, n: part.count, k: layer.outputs, dy, lda: lddy,
                      w[layer.weight] + part.lowerBound, ldb: layer.inputs, dx + part.lowerBound, ldc: ldc)
        }
    }

    private func multiplyLeakyDerivative(_ x: UnsafeMutablePointer<Float>, _ ldx: Int, _ pre: UnsafePointer<Float>,
                                         _ ldPre: Int, _ columns: Range<Int>, _ batch: Int) {
        for r in 0 ..< batch {
            Kernels.leakyReLUBackward(x + r * ldx + columns.lowerBound, pre: pre + r * ldPre + columns.lowerBound,
                                      count: columns.count, slope: slope)
        }
    }

    @inline(__always)
    private func leaky(_ x: Float) -> Float { x < 0 ? x * slope : x }
}

private extension Team {
    /// Whether this member computes the FiLM network numbered `index` (networks go to the
    /// members in turn).
    func takes(network index: Int) -> Bool { index % size == rank }
}
