import LD4MRecCore

extension Model {
    /// Whether a top-K pass of `batch` requests goes through the output screen: one request
    /// wherever the model has a screen, batches where the CPU has AMX tiles.
    func screens(batch: Int) -> Bool {
        outputScreen != nil && (batch == 1 || ScreeningTable.screensBatches)
    }

    /// The top-K lists of one pass through the output screen, on a team (every member calls
    /// this): the C-Net, then every item's score with the output layer in bf16 and, apart,
    /// the bias and the prior in float32; then per request the items whose float32 score
    /// can reach the list, scored in float32 (their dot product plus the same bias and prior).
    /// The lists and their scores are those of the float32 pass, up to the float32 rounding
    /// of the scores themselves.
    func screenedTopK(_ requests: [ScoringRequest], _ f: ForwardBuffers, _ pass: ScreenedPass, k: Int, skips: [[Int32]],
                      team: Team, into results: UnsafeMutableBufferPointer<[ScoredItem]>) {
        let screen = pass.screen
        let batch = requests.count
        let ld = screen.paddedRows
        hidden(requests, f, team)
        let users = team.share(of: batch)
        screen.round(f.output(blocks: blocks.count).f32 + users.lowerBound * f.width, stride: f.width, count: users.count,
                     into: pass.h.pointer + users.lowerBound * screen.paddedCols, norms: pass.norms.pointer + users.lowerBound)
        team.barrier()
        let items = team.share(of: ld, granule: InferenceTable.rowBlock)
        screen.multiply(rows: items, pass.h.pointer, batch: batch, into: pass.scores.pointer, ldc: ld)
        let known = items.clamped(to: 0 ..< itemCount)
        writeBiasAndPrior(requests, f, items: known, into: pass.prior.pointer, ld: ld)
        team.barrier()
        let margin = ScreeningTable.margin(cols: screen.cols)
        // The candidate list and the heap of lower bounds, reused for this member's requests.
        var candidates = [Int32](repeating: 0, count: itemCount)
        var heap = [Float](repeating: 0, count: min(k, itemCount))
        for u in users {
            results[u] = screenedTopK(user: u, f, dots: pass.scores.pointer + u * ld, prior: pass.prior.pointer + u * ld,
                                      margin: margin * pass.norms.pointer[u], norms: screen.rowNorms.pointer, k: k, skipping: skips[u],
                                      candidates: &candidates, heap: &heap)
        }
    }

    /// One request's list from its approximate scores (`dots + prior`): the k-th best lower
    /// bound (score - margin |w_j|) is a floor no item of the float32 list falls below, so
    /// the items whose upper bound reaches it are the only candidates (`ld4mrk_screen`).
    private func screenedTopK(user u: Int, _ f: ForwardBuffers, dots: UnsafePointer<Float>, prior: UnsafePointer<Float>,
                              margin: Float, norms: UnsafePointer<Float>, k: Int, skipping skip: [Int32],
                              candidates: inout [Int32], heap: inout [Float]) -> [ScoredItem] {
        let n = itemCount
        let k = min(k, n - skip.count)
        guard k > 0 else { return [] }
        let count = skip.withUnsafeBufferPointer { skip in
            Kernels.screen(dots: dots, prior: prior, norms: norms, margin: margin, count: n, k: k, skipping: skip,
                           heap: &heap, candidates: &candidates)
        }
        let chosen = candidates[..<count]
        var exact = [Float](repeating: 0, count: count)
        exact.withUnsafeMutableBufferPointer {
            output.dot(rows: chosen, activations(f.output(blocks: blocks.count), offset: u * f.width, rows: 1, stride: f.width),
                       into: $0.baseAddress!)
        }
        var selector = TopKSelector(k: k)
        for (row, score) in zip(chosen, exact) { selector.offer(row: row, score: score + prior[Int(row)]) }
        return selector.sorted()
    }
}

/// The buffers of a screened pass over `batch` requests: h rounded to bf16 as the screen
/// reads it (above one request, the batch rounded up to 32 rows, the extra rows zero), each
/// request's |h|, the bf16 products and, apart, the bias and prior of every item (rows
/// `screen.paddedRows` apart).
final class ScreenedPass {
    let screen: ScreeningTable
    let h: AlignedBuffer<UInt16>
    let norms: AlignedBuffer<Float>
    let scores: AlignedBuffer<Float>
    let prior: AlignedBuffer<Float>

    init(_ screen: ScreeningTable, batch: Int) throws {
        self.screen = screen
        let rows = ScreeningTable.rows(forBatch: batch)
        h = try AlignedBuffer(uninitialized: rows * screen.paddedCols)
        h.pointer.initialize(repeating: 0, count: h.count)
        norms = try AlignedBuffer(uninitialized: batch)
        scores = try AlignedBuffer(uninitialized: rows * screen.paddedRows)
        prior = try AlignedBuffer(uninitialized: batch * screen.paddedRows)
    }
}

