import CLD4MRecKernels

/// How a served model stores its large tables (dense weights, the input layer, the
/// item-item prior).
public enum Precision: String, Sendable, CaseIterable {
    /// float32, as trained.
    case float32
    /// bfloat16: half the memory and memory traffic. Products of bf16 weights and
    /// activations rounded to bf16 are summed in float32 (AVX512_BF16 where the CPU has
    /// it); scores move by about 1e-3 of their spread.
    case bfloat16
}

/// Activations a layer reads: `rows` vectors, `stride` floats apart, in float32 and, for
/// bf16 layers, rounded to bf16 with the same layout.
package struct Activations {
    package let f32: UnsafePointer<Float>
    package let bf16: UnsafePointer<UInt16>?
    package let rows: Int
    package let stride: Int

    package init(f32: UnsafePointer<Float>, bf16: UnsafePointer<UInt16>?, rows: Int, stride: Int) {
        self.f32 = f32
        self.bf16 = bf16
        self.rows = rows
        self.stride = stride
    }
}

/// What a table is for: the weights of a dense layer (multiplied) or rows a history
/// gathers (W_in^T, the item-item prior). In bf16 the first are bf16 panels (panels.c:
/// AMX tiles for batches), the second plain rows.
package enum TableUse: Sendable {
    case multiplied, gathered
}

/// A table of rows in float32 or bf16: weights of a dense layer (outputs x inputs), or
/// the rows a history gathers (W_in^T, the item-item prior).
package struct InferenceTable: Sendable {
    package let rows: Int
    package let cols: Int
    package let precision: Precision
    private let float32: AlignedBuffer<Float>?
    /// bf16 rows (gathered tables).
    private let bfloat16: AlignedBuffer<UInt16>?
    /// bf16 panels (multiplied tables).
    private let panels: AlignedBuffer<UInt16>?
    /// A float32 multiplied table's nonzero columns, per block of `rowBlock` rows, where
    /// zeros fill long stretches of them (the block-diagonal layers of averaged C-Nets,
    /// docs/MODEL.md): the products skip the rest. nil: every block is multiplied whole.
    private let nonzeroColumns: [[Range<Int>]]?
    /// The same for bf16 panels, in blocks of 32 columns (the panels' unit): per block of
    /// `rowBlock` rows, [begin, end) pairs of column blocks, flat, as panels.c takes them.
    private let nonzeroPanelBlocks: [[Int]]?

    /// `values` (rows x cols, row-major) times `scale`, stored in `precision`.
    package init(rows: Int, cols: Int, values: [Float], precision: Precision, scale: Float = 1, use: TableUse = .multiplied) throws {
        self.rows = rows
        self.cols = cols
        self.precision = precision
        guard precision == .bfloat16 else {
            let table = try AlignedBuffer<Float>(values)
            if scale != 1 { BLAS.scale(scale, table.pointer, count: table.count) }
            (float32, bfloat16, panels) = (table, nil, nil)
            nonzeroColumns = use == .multiplied ? Self.nonzeroColumns(table.pointer, rows: rows, cols: cols) : nil
            nonzeroPanelBlocks = nil
            return
        }
        nonzeroColumns = nil
        nonzeroPanelBlocks = use == .multiplied ? values.withUnsafeBufferPointer {
            Self.nonzeroColumns($0.baseAddress!, rows: rows, cols: cols)?.map(Self.columnBlocks)
        } : nil
        let scaled = scale == 1 ? values : values.map { $0 * scale }
        switch use {
        case .gathered:
            let halves = try AlignedBuffer<UInt16>(uninitialized: scaled.count, hugePages: true)
            scaled.withUnsafeBufferPointer { ld4mrk_to_bf16($0.baseAddress, halves.pointer, scaled.count) }
            (float32, bfloat16, panels) = (nil, halves, nil)
        case .multiplied:
            let packed = try AlignedBuffer<UInt16>(uninitialized: ld4mrk_panels_rows(rows) * ld4mrk_panels_cols(cols), hugePages: true)
            scaled.withUnsafeBufferPointer { ld4mrk_pack_panels($0.baseAddress, rows, cols, packed.pointer) }
            (float32, bfloat16, panels) = (nil, nil, packed)
        }
    }

    package var bytes: Int { (float32?.count ?? 0) * 4 + (bfloat16?.count ?? 0) * 2 + (panels?.count ?? 0) * 2 }

    /// Rows are multiplied in fixed blocks of this many (the last one shorter): a row's
    /// result depends on its block only, never on how a team split the rows, so scores do
    /// not change with the number of threads. Teams split rows in multiples of it.
    package static let rowBlock = 256

    /// Per block of `rowBlock` rows, the ranges of columns holding its nonzero entries
    /// (gaps under 64 columns bridged, so that no product gets too thin); nil when that
    /// would skip less than a quarter of the table.
    static func nonzeroColumns(_ values: UnsafePointer<Float>, rows: Int, cols: Int) -> [[Range<Int>]]? {
        let minimumGap = 64
        var (result, skipped) = ([[Range<Int>]](), 0)
        var used = [Bool](repeating: false, count: cols)
        for start in stride(from: 0, to: rows, by: rowBlock) {
            let end = min(rows, start + rowBlock)
            for c in 0 ..< cols { used[c] = false }
            for r in start ..< end {
                let row = values + r * cols
                for c in 0 ..< cols where row[c] != 0 { used[c] = true }
            }
            var runs: [Range<Int>] = []
            var c = 0
            while c < cols {
                guard used[c] else {
                    c += 1
                    continue
                }
                var last = c + 1
                while last < cols && used[last] { last += 1 }
                if let previous = runs.last, c - previous.upperBound < minimumGap {
                    runs[runs.count - 1] = previous.lowerBound ..< last
                } else {
                    runs.append(c ..< last)
                }
                c = last
            }
            skipped += (end - start) * (cols - runs.reduce(0) { $0 + $1.count })
            result.append(runs)
        }
        return skipped * 4 >= rows * cols ? result : nil
    }

    /// Column runs as the blocks of 32 columns that hold them, merged where they meet.
    static func columnBlocks(_ runs: [Range<Int>]) -> [Int] {
        var pairs: [Int] = []
        for run in runs {
            let (begin, end) = (run.lowerBound / 32, (run.upperBound + 31) / 32)
            if let last = pairs.last, begin <= last {
                pairs[pairs.count - 1] = end
            } else {
                pairs += [begin, end]
            }
        }
        return pairs
    }

    /// `y += row r` for each r of `rows`, in their order (the input layer of a history).
    package func addRows(_ rows: [Int32], to y: UnsafeMutablePointer<Float>) {
        let (f32, bf16) = (float32?.pointer, bfloat16?.pointer)
        for r in rows {
            if let f32 {
                ld4mrk_add(f32 + Int(r) * cols, y, cols)
            } else if let bf16 {
                ld4mrk_axpy_bf16(1, bf16 + Int(r) * cols, y, cols)
            }
        }
    }

    /// For every item of `histories`, in ascending order, and every member u of the batch
    /// holding it: `out[u * ld + c] += row item's entry c` for c in `columns`. Each user's
    /// row gets its items' rows in ascending order, as `addRows(_:to:)` adds a history's rows;
    /// but each table row is read once per batch, a block of columns at a time, while the
    /// block of the batch's score rows stays in cache (the prior of a batch).
    package func addRows(_ histories: ItemUsers, to out: UnsafeMutablePointer<Float>, ld: Int, columns: Range<Int>) {
        // Blocks of the batch's score rows within about 1 MB (a core's L2 holds 1-2 MB);
        // the longer each row segment, the better the prefetchers stream it.
        let block = max(256, min(4096, (1 << 18) / max(1, histories.batch)) / 16 * 16)
        // Plain pointers in the loops: a reference (a buffer, an array) touched per row would
        // be retained and released each time, on a count the team's other members share.
        let (f32, bf16) = (float32?.pointer, bfloat16?.pointer)
        histories.items.withUnsafeBufferPointer { items in
            histories.offsets.withUnsafeBufferPointer { offsets in
                histories.users.withUnsafeBufferPointer { users in
                    for start in stride(from: columns.lowerBound, to: columns.upperBound, by: block) {
                        let count = min(block, columns.upperBound - start)
                        for e in 0 ..< items.count {
                            let source = Int(items[e]) * cols + start
                            for user in users[offsets[e] ..< offsets[e + 1]] {
                                let row = out + Int(user) * ld + start
                                if let f32 {
                                    ld4mrk_add(f32 + source, row, count)
                                } else if let bf16 {
                                    ld4mrk_axpy_bf16(1, bf16 + source, row, count)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `y[b * ldy + i] = row (rows.lowerBound + i) . x[b]` for every activation row b: one
    /// slice of a layer's output for a batch (no bias).
    /// With `accumulate`, adds to y (which holds the bias, say) instead of overwriting it:
    /// BLAS then skips the pass that zeroes y, and the caller the pass that adds the bias.
    package func multiply(rows slice: Range<Int>, _ x: Activations, into y: UnsafeMutablePointer<Float>, ldy: Int,
                          accumulate: Bool = false) {
        guard !slice.isEmpty, x.rows > 0 else { return }
        let beta: Float = accumulate ? 1 : 0
        if let float32 {
            forEachBlock(of: slice, size: Self.rowBlock) { block in
                let first = float32.pointer + block.lowerBound * cols
                let out = y + (block.lowerBound - slice.lowerBound)
                /// The block times the columns `run` of x, added to `beta` times y.
                func product(_ run: Range<Int>, beta: Float) {
                    let (a, w) = (first + run.lowerBound, x.f32 + run.lowerBound)
                    if x.rows == 1 {
                        BLAS.gemv(a, lda: cols, w, out, m: block.count, n: run.count, beta: beta)
                    } else {
                        BLAS.gemmABt(w, lda: x.stride, a, ldb: cols, out, ldc: ldy, m: x.rows, n: block.count, k: run.count,
                                     beta: beta)
                    }
                }
                guard let runs = nonzeroColumns?[block.lowerBound / Self.rowBlock] else { return product(0 ..< cols, beta: beta) }
                if runs.isEmpty, !accumulate {  // all zeros
                    for b in 0 ..< x.rows { (out + b * ldy).update(repeating: 0, count: block.count) }
                }
                for (i, run) in runs.enumerated() { product(run, beta: i == 0 ? beta : 1) }
            }
        } else if let panels, let xb = x.bf16 {  // bf16 layers are always given bf16 activations
            // The panels read whole blocks of 32 columns and write whole blocks of 32 rows:
            // the activations go through one zero-padded copy, each block's results through
            // a scratch.
            let (width, batch) = (ld4mrk_panels_cols(cols), x.rows == 1 ? 1 : ld4mrk_panels_rows(x.rows))
            let a = UnsafeMutablePointer<UInt16>.allocate(capacity: batch * width)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: batch * Self.rowBlock)
            defer {
                a.deallocate()
                c.deallocate()
            }
            a.initialize(repeating: 0, count: batch * width)
            for b in 0 ..< x.rows { (a + b * width).update(from: xb + b * x.stride, count: cols) }
            forEachBlock(of: slice, size: Self.rowBlock) { block in
                let outputs = (block.count + 31) / 32 * 32
                let end = block.lowerBound + outputs
                let runs = nonzeroPanelBlocks?[block.lowerBound / Self.rowBlock]
                if runs?.isEmpty == true {  // all zeros
                    c.update(repeating: 0, count: x.rows * outputs)
                } else {
                    (runs ?? []).withUnsafeBufferPointer { pairs in
                        let (first, count) = runs == nil ? (nil, 0) : (pairs.baseAddress, pairs.count / 2)
                        if x.rows == 1 {
                            ld4mrk_panels_gemv(a, panels.pointer, cols, block.lowerBound, end, first, count, c, 1)
                        } else {
                            ld4mrk_panels_gemm(a, width, x.rows, panels.pointer, cols, block.lowerBound, end, first, count,
                                               c, outputs, 1)
                        }
                    }
                }
                let out = y + (block.lowerBound - slice.lowerBound)
                for b in 0 ..< x.rows {
                    if accumulate {
                        ld4mrk_add(c + b * outputs, out + b * ldy, block.count)
                    } else {
                        (out + b * ldy).update(from: c + b * outputs, count: block.count)
                    }
                }
            }
        }
    }

    /// `out[i] = row rows[i] . x` for the first activation row of x (candidates' scores).
    package func dot(rows: ArraySlice<Int32>, _ x: Activations, into out: UnsafeMutablePointer<Float>) {
        if let float32 {
            rows.withUnsafeBufferPointer { ld4mrk_dot_rows(float32.pointer, cols, $0.baseAddress, rows.count, x.f32, out) }
        } else if let panels, let xb = x.bf16 {
            let width = ld4mrk_panels_cols(cols)
            let padded = [UInt16](unsafeUninitializedCapacity: width) { buffer, count in
                buffer.initialize(repeating: 0)
                buffer.baseAddress!.update(from: xb, count: cols)
                count = width
            }
            rows.withUnsafeBufferPointer { ld4mrk_panels_dot_rows(panels.pointer, cols, $0.baseAddress, rows.count, padded, out) }
        }
    }

    /// `out[i] += sum over s in sources of row s's entry at column columns[i]`, adding the
    /// sources in their order (as `addRows(_:to:)` adds them to a whole row).
    package func addEntries(ofRows sources: [Int32], columns: ArraySlice<Int32>, to out: UnsafeMutablePointer<Float>) {
        if let float32 {
            for (i, c) in columns.enumerated() {
                for s in sources { out[i] += float32.pointer[Int(s) * cols + Int(c)] }
            }
        } else if let bfloat16 {
            for (i, c) in columns.enumerated() {
                for s in sources { out[i] += Float(bitPattern: UInt32(bfloat16.pointer[Int(s) * cols + Int(c)]) << 16) }
            }
        }
    }
}

/// A float32 table's rows kept a second time as bf16 panels (panels.c), to screen a
/// request's scores: the bf16 product of a row w_j and an activation h is within
/// `bound(h) * rowNorms[j]` of the float32 one, so the rows whose float32 score can reach a
/// top-K are found from the bf16 scores, and only those are scored in float32. Half the
/// table's memory again; AMX tiles for batches, VDPBF16PS for one request.
package struct ScreeningTable: Sendable {
    package let rows: Int
    package let cols: Int
    /// Rows and columns padded to multiples of 32, as the panels store them.
    package let paddedRows: Int
    package let paddedCols: Int
    /// The float32 rows' Euclidean norms, rounded up.
    package let rowNorms: AlignedBuffer<Float>
    private let panels: AlignedBuffer<UInt16>

    /// `values` (rows x cols, row-major): the float32 table the screen stands for.
    package init(rows: Int, cols: Int, values: UnsafePointer<Float>) throws {
        self.rows = rows
        self.cols = cols
        paddedRows = ld4mrk_panels_rows(rows)
        paddedCols = ld4mrk_panels_cols(cols)
        panels = try AlignedBuffer(uninitialized: paddedRows * paddedCols, hugePages: true)
        ld4mrk_pack_panels(values, rows, cols, panels.pointer)
        rowNorms = try AlignedBuffer(uninitialized: rows)
        for r in 0 ..< rows {
            let row = values + r * cols
            rowNorms.pointer[r] = Float(BLAS.doubleDot(row, row, count: cols).squareRoot() * (1 + 1e-6))
        }
    }

    package var bytes: Int { panels.count * 2 + rowNorms.count * 4 }

    /// The panels themselves, for the kernel tests.
    package var panelsForTesting: UnsafePointer<UInt16> { UnsafePointer(panels.pointer) }

    /// Rows of activations and of scores a batch of `batch` requests needs (`multiply`).
    package static func rows(forBatch batch: Int) -> Int { batch == 1 ? 1 : ld4mrk_panels_rows(batch) }

    /// Whether batches (more than one activation row) run on AMX tiles; without them a batch
    /// is cheaper in float32 than screened.
    package static var screensBatches: Bool { ld4mrk_has_amx_bf16() != 0 }
    /// Whether this CPU can screen at all (AVX512_BF16); elsewhere the plain float32 path is faster.
    package static var isAvailable: Bool { ld4mrk_has_avx512bf16() != 0 }

    /// The margin of the screen: |bf16 score - float32 score| <= margin * |h| * |w_j|.
    /// Rounding h and w_j to bf16 moves their product by at most 2^-7 + 2^-16 of |h||w_j|
    /// (Cauchy-Schwarz); both float32 sums add at most cols * 2^-24 each; 2^-10 on top covers
    /// those sums and the float32 additions that follow (bias, prior).
    package static func margin(cols: Int) -> Float { 0x1p-7 + 0x1p-10 + Float(cols) * 0x1p-23 }

    /// `a` for `count` activations of `stride` floats (their first `cols`), as the panels
    /// read them: bf16 rows `paddedCols` apart, zero-padded; and each row's norm.
    package func round(_ x: UnsafePointer<Float>, stride: Int, count: Int, into a: UnsafeMutablePointer<UInt16>,
                       norms: UnsafeMutablePointer<Float>) {
        for b in 0 ..< count {
            let row = a + b * paddedCols
            ld4mrk_to_bf16(x + b * stride, row, cols)
            row.advanced(by: cols).update(repeating: 0, count: paddedCols - cols)
            var sum = 0.0
            for c in 0 ..< cols { sum += Double(x[b * stride + c]) * Double(x[b * stride + c]) }
            norms[b] = Float(sum.squareRoot() * (1 + 1e-6))
        }
    }

    /// `c[b * ldc + j] = a_b . w_j` for the `batch` rounded activations and the rows j in
    /// `slice` (a multiple of 32 wide, within `paddedRows`). For a batch above one, `a` and `c` have
    /// `batch` rounded up to 32 rows.
    package func multiply(rows slice: Range<Int>, _ a: UnsafePointer<UInt16>, batch: Int, into c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard !slice.isEmpty else { return }
        if batch == 1 {
            ld4mrk_panels_gemv(a, panels.pointer, cols, slice.lowerBound, slice.upperBound, nil, 0, c + slice.lowerBound, 1)
        } else {
            ld4mrk_panels_gemm(a, paddedCols, batch, panels.pointer, cols, slice.lowerBound, slice.upperBound, nil, 0,
                               c + slice.lowerBound, ldc, 1)
        }
    }
}

/// The histories of a batch by item: each distinct item (ascending) and the batch rows
/// (users) that hold it, in CSR form.
package struct ItemUsers: Sendable {
    /// Users in the batch.
    package let batch: Int
    package let items: [Int32]
    package let offsets: [Int]
    package let users: [Int32]

    /// `histories[u]`: user u's item rows, sorted and unique.
    package init(_ histories: [[Int32]]) {
        batch = histories.count
        let total = histories.reduce(0) { $0 + $1.count }
        let bound = histories.reduce(0) { max($0, Int($1.max() ?? -1) + 1) }  // one past the largest row
        // A counting sort by item (users enter in order, so each item's users ascend), in
        // O(entries + bound); past that bound (a few users of a huge catalogue), a sort.
        guard bound <= 4 * total + 4096 else {
            var pairs: [Int64] = []  // item << 32 | user: sorted, items ascend and their users too
            pairs.reserveCapacity(total)
            for (u, history) in histories.enumerated() {
                for item in history { pairs.append(Int64(item) << 32 | Int64(u)) }
            }
            pairs.sort()
            var (items, offsets): ([Int32], [Int]) = ([], [0])
            for (e, pair) in pairs.enumerated() where e > 0 && pair >> 32 != pairs[e - 1] >> 32 {
                items.append(Int32(pairs[e - 1] >> 32))
                offsets.append(e)
            }
            if let last = pairs.last {
                items.append(Int32(last >> 32))
                offsets.append(pairs.count)
            }
            (self.items, self.offsets, users) = (items, offsets, pairs.map { Int32(truncatingIfNeeded: $0) })
            return
        }
        var next = [Int](repeating: 0, count: bound + 1)  // counts, then each item's next slot
        for history in histories {
            for item in history { next[Int(item) + 1] += 1 }
        }
        var (items, offsets): ([Int32], [Int]) = ([], [0])
        for item in 0 ..< bound where next[item + 1] > 0 {
            items.append(Int32(item))
            offsets.append(offsets[offsets.count - 1] + next[item + 1])
        }
        for item in 0 ..< bound { next[item + 1] += next[item] }
        var users = [Int32](repeating: 0, count: total)
        for (u, history) in histories.enumerated() {
            for item in history {
                users[next[Int(item)]] = Int32(u)
                next[Int(item)] += 1
            }
        }
        (self.items, self.offsets, self.users) = (items, offsets, users)
    }
}

/// Calls `body` on each fixed block of `range` (block boundaries are multiples of `size`
/// from 0; the first and the last cut to the range), so that a product split this way
/// rounds the same whatever share of it a team member takes.
package func forEachBlock(of range: Range<Int>, size: Int, _ body: (Range<Int>) -> Void) {
    var start = range.lowerBound
    while start < range.upperBound {
        let end = min(range.upperBound, (start / size + 1) * size)
        body(start ..< end)
        start = end
    }
}
