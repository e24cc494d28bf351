import LD4MRecCore

extension Model {
    /// Whether a top-K pass of `batch` requests goes through the output screen: one request
    /// wherever the model has a screen, batches where the CPU has AMX tiles.
    func screens(batch: Int) -> Bool {
        outputScreen != nil && (batch == 1 || ScreeningTable.screensBatches)
    }

    /// The first step of a pass through the output screen, on a team (every member calls
    /// this): the C-Net, and its last layer rounded to bf16 as the screen reads it.
    /// Then `screenOutput` over every block of items, and `screenedList` per request: the
    /// lists and their scores are those of the float32 pass, up to the float32 rounding
    /// of the scores themselves.
    func screenHidden(_ requests: [ScoringRequest], _ f: ForwardBuffers, _ pass: ScreenedPass, team: Team) {
        let screen = pass.screen
        hidden(requests, f, team)
        let users = team.share(of: requests.count)
        screen.round(f.output(blocks: blocks.count).f32 + users.lowerBound * f.width, stride: f.width, count: users.count,
                     into: pass.h.pointer + users.lowerBound * screen.paddedCols, norms: pass.norms.pointer + users.lowerBound)
        team.barrier()
    }

    /// Every request's approximate scores for the item rows `items` (a multiple of 32
    /// wide): the output layer in bf16 and, apart, the bias and the prior in float32.
    func screenOutput(_ requests: [ScoringRequest], _ f: ForwardBuffers, _ pass: ScreenedPass, items: Range<Int>) {
        let ld = pass.screen.paddedRows
        pass.screen.multiply(rows: items, pass.h.pointer, batch: requests.count, into: pass.scores.pointer, ldc: ld)
        writeBiasAndPrior(requests, f, items: items.clamped(to: 0 ..< itemCount), into: pass.prior.pointer, ld: ld)
    }

    /// Request u's list, once every block of items has its approximate scores (`dots +
    /// prior`): the k-th best lower bound (score - margin |w_j|) is a floor no item of the
    /// float32 list falls below, so the items whose upper bound reaches it are the only
    /// candidates (`ld4mrk_screen`); they are scored in float32 (their dot product plus
    /// the same bias and prior).
    func screenedList(user u: Int, _ f: ForwardBuffers, _ pass: ScreenedPass, k: Int, skipping skip: [Int32],
                      scratch: inout ListScratch) -> [ScoredItem] {
        let screen = pass.screen
        let (dots, prior) = (pass.scores.pointer + u * screen.paddedRows, pass.prior.pointer + u * screen.paddedRows)
        let margin = ScreeningTable.margin(cols: screen.cols) * pass.norms.pointer[u]
        let n = itemCount
        let k = min(k, n - skip.count)
        guard k > 0 else { return [] }
        let count = skip.withUnsafeBufferPointer { skip in
            Kernels.screen(dots: dots, prior: prior, norms: screen.rowNorms.pointer, margin: margin, count: n, k: k, skipping: skip,
                           heap: &scratch.heap, candidates: &scratch.candidates)
        }
        let chosen = scratch.candidates[..<count]
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

/// The candidate list and the heap of lower bounds of `screenedList`, kept by a thread
/// for the requests it serves.
struct ListScratch {
    var candidates: [Int32]
    var heap: [Float]

    init(items: Int, k: Int) {
        candidates = [Int32](repeating: 0, count: items)
        heap = [Float](repeating: 0, count: min(k, items))
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

