import LD4MRecCore

/// One user to score: the rows of their history's items (sorted, unique) and their row of
/// z_in (nil: z_in_default).
struct ScoringRequest: Sendable {
    var items: [Int32]
    var userRow: Int?
}

/// The activations of one forward pass over a batch of B requests, allocated by the call
/// and shared by its team. h lives in rows of width d + d_f whose tail holds z, so that
/// W1 reads [h ; z] in place; two such buffers alternate between blocks (block s reads
/// `states[s % 2]` and writes the other). With bf16 tables every layer input also has a
/// bf16 copy.
final class ForwardBuffers {
    typealias Pair = (f32: UnsafeMutablePointer<Float>, bf16: UnsafeMutablePointer<UInt16>?)
    let batch: Int
    let width: Int
    let states: [Pair]
    let pre: UnsafeMutablePointer<Float>
    let collaborative: (f32: UnsafeMutablePointer<Float>, bf16: UnsafeMutablePointer<UInt16>?)
    let preferences: [(f32: UnsafeMutablePointer<Float>, bf16: UnsafeMutablePointer<UInt16>?)]
    /// Per block: tanh(W2 c_u + b2) and sigmoid(W3 z + b3), B x d each.
    let condition: [UnsafeMutablePointer<Float>]
    let gate: [UnsafeMutablePointer<Float>]
    /// Per block and modality: the scale and shift networks' hidden layers (B x h_mlp)
    /// and outputs (B x d).
    let filmHidden: [[(scale: (f32: UnsafeMutablePointer<Float>, bf16: UnsafeMutablePointer<UInt16>?),
                       shift: (f32: UnsafeMutablePointer<Float>, bf16: UnsafeMutablePointer<UInt16>?))]]
    let filmOutput: [[(scale: UnsafeMutablePointer<Float>, shift: UnsafeMutablePointer<Float>)]]
    /// The batch's histories by item, for the prior (`InferenceTable.addRows`, `SparseRows.addRows`).
    let historiesByItem: ItemUsers?
    private let floats: AlignedBuffer<Float>
    private let halves: AlignedBuffer<UInt16>?

    init(_ model: Model, _ requests: [ScoringRequest]) throws {
        let batch = requests.count
        historiesByItem = model.itemItem == nil && model.sparsePrior == nil ? nil : ItemUsers(requests.map(\.items))
        let h = model.hyperparameters
        let (d, df, k2, hidden) = (h.hiddenSize, h.stepEmbeddingSize, 2 * h.svdRank, h.filmHiddenSize)
        let dims = model.modalityDimensions
        let (blocks, modalities) = (model.blocks.count, dims.count)
        self.batch = batch
        // Rows of [h ; z] padded to whole cache lines, and every buffer on a cache line:
        // BLAS rounds the same way for every user of a batch (AlignedBuffer).
        width = AlignedBuffer<Float>.paddedCount(d + df)
        func lines(_ count: Int) -> Int { AlignedBuffer<Float>.paddedCount(batch * count) }
        let inputs = [width, width, k2] + dims + [Int](repeating: hidden, count: blocks * modalities * 2)
        let outputs = [d] + [Int](repeating: d, count: blocks * (2 + modalities * 2))
        floats = try AlignedBuffer(uninitialized: (inputs + outputs).reduce(0) { $0 + lines($1) })
        halves = model.precision == .bfloat16 ? try AlignedBuffer(uninitialized: inputs.reduce(0) { $0 + 2 * lines($1) }) : nil
        var (nextFloat, nextHalf) = (floats.pointer, halves?.pointer)
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { nextFloat += lines(count) }
            return nextFloat
        }
        func pair(_ count: Int) -> (f32: UnsafeMutablePointer<Float>, bf16: UnsafeMutablePointer<UInt16>?) {
            defer { nextHalf = nextHalf.map { $0 + 2 * lines(count) } }  // bf16 lines hold 32: keep 64-byte steps
            return (take(count), nextHalf)
        }
        states = [pair(width), pair(width)]
        collaborative = pair(k2)
        preferences = dims.map { pair($0) }
        filmHidden = (0 ..< blocks).map { _ in (0 ..< modalities).map { _ in (pair(hidden), pair(hidden)) } }
        pre = take(d)
        condition = (0 ..< blocks).map { _ in take(d) }
        gate = (0 ..< blocks).map { _ in take(d) }
        filmOutput = (0 ..< blocks).map { _ in (0 ..< modalities).map { _ in (take(d), take(d)) } }
    }

    /// The first block's input (h0 and z).
    var input: Pair { states[0] }
    /// The last hidden layer, after `blocks` blocks.
    func output(blocks: Int) -> Pair { states[blocks % 2] }
}

/// The bf16 copy of `count` floats, when the buffer has one.
@inline(__always)
private func round(_ x: (f32: UnsafeMutablePointer<Float>, bf16: UnsafeMutablePointer<UInt16>?), at offset: Int, _ count: Int) {
    if let bf16 = x.bf16 { Kernels.toBFloat16(x.f32 + offset, bf16 + offset, count: count) }
}

func activations(_ x: (f32: UnsafeMutablePointer<Float>, bf16: UnsafeMutablePointer<UInt16>?),
                         offset: Int = 0, rows: Int, stride: Int) -> Activations {
    Activations(f32: x.f32 + offset, bf16: x.bf16.map { UnsafePointer($0 + offset) }, rows: rows, stride: stride)
}

extension Model {
    /// The C-Net from the history to its last hidden layer, for a batch, on a team: every
    /// member calls this; each takes its share of the users (inputs) or of each layer's
    /// rows (the matrix products and what follows them elementwise), with a barrier where
    /// a step needs the whole of the previous one. Leaves h in `f.output(blocks:)` (rows of width
    /// d + d_f). (docs/MODEL.md, "C-Net"; LD4MRecTraining's `TrainingStep` is the same
    /// network with its backward pass; a test holds the two to the same scores.)
    func hidden(_ requests: [ScoringRequest], _ f: ForwardBuffers, _ team: Team) {
        let (first, second) = (f.states[0], f.states[1])
        let h = hyperparameters
        let (batch, d, df, k2, filmWidth) = (requests.count, h.hiddenSize, h.stepEmbeddingSize, 2 * h.svdRank, h.filmHiddenSize)
        let width = f.width
        let dims = modalityDimensions
        let slope = Float(h.leakyReluSlope)

        // The input layer as a gather over the history, z, and the condition signals.
        for u in team.share(of: batch) {
            let row = first.f32 + u * width
            inputBias.withUnsafeBufferPointer { row.update(from: $0.baseAddress!, count: d) }
            inputByItem.addRows(requests[u].items, to: row)
            let z = requests[u].userRow.map { zIn.row($0) } ?? zInDefault
            z.withUnsafeBufferPointer {
                (row + d).update(from: $0.baseAddress!, count: df)
                (second.f32 + u * width + d).update(from: $0.baseAddress!, count: df)
            }
            signals.write(requests[u].items, collaborative: f.collaborative.f32 + u * k2,
                          preferences: dims.indices.map { f.preferences[$0].f32 + u * dims[$0] })
            round(first, at: u * width, width)
            round(second, at: u * width + d, df)
            round(f.collaborative, at: u * k2, k2)
            for m in dims.indices { round(f.preferences[m], at: u * dims[m], dims[m]) }
        }
        team.barrier()

        // What does not depend on h: the condition and gate branches of every CG block and
        // the first layers of the FiLM networks.
        let rows = team.share(of: d, granule: InferenceTable.rowBlock)
        for (s, block) in blocks.enumerated() {
            fillBias(block.conditionBias, rows, f.condition[s], ld: d, batch)
            block.condition.multiply(rows: rows, activations(f.collaborative, rows: batch, stride: k2),
                                     into: f.condition[s] + rows.lowerBound, ldy: d, accumulate: true)
            fillBias(block.gateBias, rows, f.gate[s], ld: d, batch)
            block.gate.multiply(rows: rows, activations(first, offset: d, rows: batch, stride: width),
                                into: f.gate[s] + rows.lowerBound, ldy: d, accumulate: true)
            for u in 0 ..< batch {
                Kernels.tanh(f.condition[s] + u * d + rows.lowerBound, count: rows.count)
                Kernels.sigmoid(f.gate[s] + u * d + rows.lowerBound, count: rows.count)
            }
            let filmRows = team.share(of: filmWidth, granule: InferenceTable.rowBlock)
            for m in dims.indices {
                let p = activations(f.preferences[m], rows: batch, stride: dims[m])
                for (network, out) in [(block.film[m].scale, f.filmHidden[s][m].scale), (block.film[m].shift, f.filmHidden[s][m].shift)] {
                    fillBias(network.fc1Bias, filmRows, out.f32, ld: filmWidth, batch)
                    network.fc1.multiply(rows: filmRows, p, into: out.f32 + filmRows.lowerBound, ldy: filmWidth, accumulate: true)
                    for u in 0 ..< batch {
                        let row = out.f32 + u * filmWidth
                        leakyReLU(row + filmRows.lowerBound, filmRows.count, slope)
                        round(out, at: u * filmWidth + filmRows.lowerBound, filmRows.count)
                    }
                }
            }
        }
        team.barrier()
        for (s, block) in blocks.enumerated() {
            for m in dims.indices {
                for (network, hidden, out) in [(block.film[m].scale, f.filmHidden[s][m].scale, f.filmOutput[s][m].scale),
                                               (block.film[m].shift, f.filmHidden[s][m].shift, f.filmOutput[s][m].shift)] {
                    fillBias(network.fc2Bias, rows, out, ld: d, batch)
                    network.fc2.multiply(rows: rows, activations(hidden, rows: batch, stride: filmWidth),
                                         into: out + rows.lowerBound, ldy: d, accumulate: true)
                }
            }
        }
        team.barrier()

        // The blocks: h = tanh(W1 [h ; z] + b1) (1 - g) + c g, then the FiLM steps, each
        // member finishing its rows of h before the next block reads all of them.
        for (s, block) in blocks.enumerated() {
            let (input, output) = (f.states[s % 2], f.states[(s + 1) % 2])
            fillBias(block.hiddenBias, rows, f.pre, ld: d, batch)
            block.hidden.multiply(rows: rows, activations(input, rows: batch, stride: width), into: f.pre + rows.lowerBound, ldy: d,
                                  accumulate: true)
            for u in 0 ..< batch {
                let a = f.pre + u * d
                Kernels.tanh(a + rows.lowerBound, count: rows.count)
                let (c, g) = (f.condition[s] + u * d, f.gate[s] + u * d)
                let out = output.f32 + u * width
                let r0 = rows.lowerBound
                Kernels.gateMix(a + r0, c + r0, gate: g + r0, into: out + r0, count: rows.count)
                for m in dims.indices {
                    let (scale, shift) = (f.filmOutput[s][m].scale + u * d, f.filmOutput[s][m].shift + u * d)
                    if m > 0 { leakyReLU(out + r0, rows.count, slope) }
                    Kernels.film(scale: scale + r0, shift: shift + r0, out + r0, count: rows.count)
                }
                if s < blocks.count - 1 { leakyReLU(out + rows.lowerBound, rows.count, slope) }
                round(output, at: u * width + rows.lowerBound, rows.count)
            }
            team.barrier()
        }
    }

    /// Full scores of the batch for the items `items` (this member's share), written to
    /// `out` (B x n_items): `W_out h + b_out + sum_{j in H} B[j]`.
    func scores(_ requests: [ScoringRequest], _ f: ForwardBuffers, items: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let h = activations(f.output(blocks: blocks.count), rows: requests.count, stride: f.width)
        output.multiply(rows: items, h, into: out + items.lowerBound, ldy: itemCount)
        addBiasAndPrior(requests, f, items: items, into: out, ld: itemCount)
    }

    /// `out[u * ld + j] += b_out[j] + sum_{i in H_u} B[i][j]` for the items j in `items`.
    func addBiasAndPrior(_ requests: [ScoringRequest], _ f: ForwardBuffers, items: Range<Int>, into out: UnsafeMutablePointer<Float>, ld: Int) {
        guard !items.isEmpty else { return }
        for u in requests.indices { addBias(outputBias, items, out + u * ld) }
        addPrior(requests, f, items: items, into: out, ld: ld)
    }

    /// `out[u * ld + j] = b_out[j] + sum_{i in H_u} B[i][j]`: the same sums as
    /// `addBiasAndPrior` into zeros, without the pass that zeroes.
    func writeBiasAndPrior(_ requests: [ScoringRequest], _ f: ForwardBuffers, items: Range<Int>, into out: UnsafeMutablePointer<Float>, ld: Int) {
        fillBias(outputBias, items, out, ld: ld, requests.count)
        addPrior(requests, f, items: items, into: out, ld: ld)
    }

    /// `out[u * ld + j] += sum_{i in H_u} B[i][j]` for the items j in `items`.
    private func addPrior(_ requests: [ScoringRequest], _ f: ForwardBuffers, items: Range<Int>, into out: UnsafeMutablePointer<Float>, ld: Int) {
        if let itemItem, let histories = f.historiesByItem {
            itemItem.addRows(histories, to: out, ld: ld, columns: items)
        }
        if let sparsePrior, let histories = f.historiesByItem {
            sparsePrior.addRows(histories, to: out, ld: ld, columns: items)
        }
    }

    /// Scores of the given item rows for user `u` of the batch: one dot product each, then
    /// the bias and the prior's entries, in the order the full score vector adds them.
    func candidateScores(_ request: ScoringRequest, user u: Int, _ f: ForwardBuffers, rows: ArraySlice<Int32>,
                         into out: UnsafeMutablePointer<Float>) {
        let h = activations(f.output(blocks: blocks.count), offset: u * f.width, rows: 1, stride: f.width)
        output.dot(rows: rows, h, into: out)
        outputBias.withUnsafeBufferPointer { bias in
            for (i, row) in rows.enumerated() { out[i] += bias[Int(row)] }
        }
        itemItem?.addEntries(ofRows: request.items, columns: rows, to: out)
        if let sparsePrior {
            for (i, row) in rows.enumerated() {
                for item in request.items { out[i] += sparsePrior.value(row: Int(item), column: row) }
            }
        }
    }
}

/// Rows `rows` of each of the batch's rows of y (ld apart) set to the bias: the products
/// then add to it (`accumulate`), sparing BLAS's zeroing pass and a pass adding the bias.
private func fillBias(_ bias: [Float], _ rows: Range<Int>, _ y: UnsafeMutablePointer<Float>, ld: Int, _ batch: Int) {
    guard !rows.isEmpty else { return }
    bias.withUnsafeBufferPointer { b in
        for u in 0 ..< batch { (y + u * ld + rows.lowerBound).update(from: b.baseAddress! + rows.lowerBound, count: rows.count) }
    }
}

@inline(__always)
private func addBias(_ bias: [Float], _ rows: Range<Int>, _ row: UnsafeMutablePointer<Float>) {
    bias.withUnsafeBufferPointer { Kernels.add($0.baseAddress! + rows.lowerBound, to: row + rows.lowerBound, count: rows.count) }
}

@inline(__always)
private func leakyReLU(_ x: UnsafeMutablePointer<Float>, _ count: Int, _ slope: Float) {
    Kernels.leakyReLU(x, count: count, slope: slope)
}

extension SparseRows {
    /// Row r's value at column c (0 where the row has no entry).
    func value(row r: Int, column c: Int32) -> Float {
        var (low, high) = (offsets[r], offsets[r + 1])
        while low < high {
            let mid = (low + high) / 2
            if columns[mid] < c { low = mid + 1 } else { high = mid }
        }
        return low < offsets[r + 1] && columns[low] == c ? values[low] : 0
    }
}
