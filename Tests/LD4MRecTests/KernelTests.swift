import CLD4MRecKernels
import Dispatch
import Testing
@testable import LD4MRecCore
#if canImport(Glibc)
import Glibc
#endif

/// The library's own kernels against plain references, and the thread pool's contract.
@Suite struct KernelTests {
    @Test func activationsMatchLibm() {
        let xs = stride(from: -30.0, through: 30.0, by: 0.0137).map { Float($0) } + [0, -0, 1e-7, -1e-7, 4e-4, 9, -9, 80, -80]
        var y = xs
        Kernels.tanh(&y, count: xs.count)
        for (x, got) in zip(xs, y) {
            let want = Float(Foundation_tanh(Double(x)))
            #expect(abs(got - want) <= 4 * Float.ulpOfOne * max(abs(want), 1e-3) || abs(got - want) < 1e-7, "tanh(\(x)) = \(got), want \(want)")
        }
        y = xs
        Kernels.sigmoid(&y, count: xs.count)
        for (x, got) in zip(xs, y) {
            let want = Float(1 / (1 + Foundation_exp(-Double(x))))
            #expect(abs(got - want) <= 1e-6 * max(want, 1e-30) + 1e-30, "sigmoid(\(x)) = \(got), want \(want)")
        }
        let small = xs.filter { abs($0) < 80 }
        var e = small
        Kernels.exp(&e, count: small.count)
        for (x, got) in zip(small, e) {
            let want = Float(Foundation_exp(Double(x)))
            #expect(abs(got - want) <= 4 * Float.ulpOfOne * want, "exp(\(x)) = \(got), want \(want)")
        }
    }

    /// Allocation failures are errors, not aborts: a negative count, a size that
    /// overflows, and one no machine has (2^50 bytes, beyond a 47-bit address space).
    @Test(arguments: [-1, Int.max / 2, 1 << 48])
    func impossibleBuffersThrowOutOfMemory(count: Int) {
        for hugePages in [false, true] {
            do {
                _ = try AlignedBuffer<Float>(uninitialized: count, hugePages: hugePages)
                Issue.record("allocated \(count) floats")
            } catch let error as LD4MRecError {
                #expect(error.code == .outOfMemory)
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func bfloat16RoundsToNearestEven() {
        let values: [Float] = [1, -2, 1.00390625, 1.01171875, 3.1415927, -0.1, 65504, 1e-20]
        var bits = [UInt16](repeating: 0, count: values.count)
        Kernels.toBFloat16(values, &bits, count: values.count)
        for (x, b) in zip(values, bits) {
            let back = Float(bitPattern: UInt32(b) << 16)
            #expect(abs(back - x) <= abs(x) / 256, "\(x) -> \(back)")
        }
        // Ties go to even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7.
        #expect(bits[2] == Float(1).bitPattern >> 16)
        #expect(bits[3] == (Float(1).bitPattern >> 16) + 2)
    }

    /// The bf16 panels (AMX tiles, VDPBF16PS, the widening loop) agree with a double sum of
    /// the rounded values, and stay within the screen's margin of the unrounded product.
    @Test(arguments: [(77, 45, 5), (64, 1000, 40), (33, 32, 1), (300, 100, 33), (16, 7, 2)])
    func panelsAgreeWithDoubleSums(rows: Int, cols: Int, batch: Int) throws {
        var rng = SeededGenerator(seed: UInt64(rows * 31 + cols))
        let w = (0 ..< rows * cols).map { _ in Float(rng.nextGaussian()) }
        let x = (0 ..< batch * cols).map { _ in Float(rng.nextGaussian()) }
        let table = try w.withUnsafeBufferPointer { try ScreeningTable(rows: rows, cols: cols, values: $0.baseAddress!) }
        let (width, height) = (table.paddedCols, table.paddedRows)
        #expect(width % 32 == 0 && width >= cols && width < cols + 32)
        #expect(height % 32 == 0 && height >= rows && height < rows + 32)
        let batchRows = max(32, ScreeningTable.rows(forBatch: batch))
        var a = [UInt16](repeating: 0xFFFF, count: batchRows * width)  // rounding writes the padding too
        var norms = [Float](repeating: 0, count: batch)
        x.withUnsafeBufferPointer { table.round($0.baseAddress!, stride: cols, count: batch, into: &a, norms: &norms) }
        for b in batch ..< batchRows { for c in 0 ..< width { a[b * width + c] = 0 } }
        func widened(_ h: UInt16) -> Double { Double(Float(bitPattern: UInt32(h) << 16)) }
        var tiles = [Float](repeating: .nan, count: batchRows * height), perRow = tiles
        var fast = [Float](repeating: .nan, count: height), plain = fast
        let panels = table.panelsForTesting
        ld4mrk_panels_gemm(a, width, batch, panels, cols, 0, height, nil, 0, &tiles, height, 1)
        ld4mrk_panels_gemm(a, width, batch, panels, cols, 0, height, nil, 0, &perRow, height, 0)
        if height > 32 {  // a slice of rows lands at column 0 of its output
            var slice = [Float](repeating: .nan, count: batchRows * (height - 32))
            ld4mrk_panels_gemm(a, width, batch, panels, cols, 32, height, nil, 0, &slice, height - 32, 1)
            for b in 0 ..< batch { #expect(Array(slice[b * (height - 32) ..< (b + 1) * (height - 32)]) == Array(tiles[b * height + 32 ..< (b + 1) * height])) }
        }
        for b in 0 ..< batch {
            var xb = [UInt16](repeating: 0, count: cols)
            Kernels.toBFloat16(Array(x[b * cols ..< (b + 1) * cols]), &xb, count: cols)
            let norm = (0 ..< cols).reduce(0.0) { $0 + Double(x[b * cols + $1]) * Double(x[b * cols + $1]) }.squareRoot()
            #expect(abs(Double(norms[b]) - norm) <= 1e-5 * norm)
            a.withUnsafeBufferPointer {
                ld4mrk_panels_gemv($0.baseAddress! + b * width, panels, cols, 0, height, nil, 0, &fast, 1)
                ld4mrk_panels_gemv($0.baseAddress! + b * width, panels, cols, 0, height, nil, 0, &plain, 0)
            }
            // One row at a time out of its panel: the widening path's sums, in its order.
            let picked: [Int32] = [0, Int32(rows - 1), Int32(rows / 2)]
            var dots = [Float](repeating: .nan, count: picked.count)
            a.withUnsafeBufferPointer { ld4mrk_panels_dot_rows(panels, cols, picked, picked.count, $0.baseAddress! + b * width, &dots) }
            for (i, r) in picked.enumerated() { #expect(abs(dots[i] - plain[Int(r)]) <= 1e-5 * max(1, abs(plain[Int(r)]))) }
            // Runs of column blocks: all but the first, on the fast and the widening path.
            var withoutFirst = [Float](repeating: .nan, count: 2 * height)
            if width >= 64 {
                a.withUnsafeBufferPointer {
                    let runs = [1, width / 32]
                    ld4mrk_panels_gemv($0.baseAddress! + b * width, panels, cols, 0, height, runs, 1, &withoutFirst, 1)
                    ld4mrk_panels_gemv($0.baseAddress! + b * width, panels, cols, 0, height, runs, 1, &withoutFirst[height], 0)
                }
            }
            for r in 0 ..< height {
                var rounded = 0.0, exact = 0.0, magnitude = 0.0
                for c in 0 ..< cols where r < rows {
                    var wb: UInt16 = 0
                    Kernels.toBFloat16([w[r * cols + c]], &wb, count: 1)
                    rounded += widened(wb) * widened(xb[c])
                    magnitude += abs(widened(wb) * widened(xb[c]))
                    exact += Double(w[r * cols + c]) * Double(x[b * cols + c])
                }
                let tolerance = 1e-6 * Double(cols) * max(1e-30, magnitude)
                for (path, value) in [("AMX", tiles[b * height + r]), ("per row", perRow[b * height + r]), ("VDPBF16PS", fast[r]), ("widening", plain[r])] {
                    #expect(abs(Double(value) - rounded) <= tolerance, "\(path) \(rows)x\(cols) batch \(b) row \(r): \(value) vs \(rounded)")
                }
                if width >= 64 {
                    var rest = 0.0
                    for c in 32 ..< cols where r < rows {
                        var wb: UInt16 = 0
                        Kernels.toBFloat16([w[r * cols + c]], &wb, count: 1)
                        rest += widened(wb) * widened(xb[c])
                    }
                    for value in [withoutFirst[r], withoutFirst[height + r]] { #expect(abs(Double(value) - rest) <= tolerance) }
                }
                if r < rows {
                    let margin = Double(ScreeningTable.margin(cols: cols) * norms[b] * table.rowNorms.pointer[r])
                    #expect(abs(Double(tiles[b * height + r]) - exact) <= margin)
                } else {
                    #expect(tiles[b * height + r] == 0)  // padding rows of the table are zero
                }
            }
        }
    }

    /// The screen's candidates (vectorised scans and their scalar tails) are exactly the
    /// allowed items whose upper bound reaches the k-th best lower bound, computed here by
    /// sorting.
    @Test(arguments: [(6710, 20, 9), (37, 5, 3), (16, 16, 0), (1000, 1, 40)])
    func screenKeepsExactlyTheItemsThatCanReachTheList(n: Int, k: Int, skips: Int) {
        var rng = SeededGenerator(seed: UInt64(n * 7 + k))
        let dots = (0 ..< n).map { _ in Float(rng.nextGaussian()) }
        let prior = (0 ..< n).map { _ in Float(rng.nextGaussian()) * 0.1 }
        let norms = (0 ..< n).map { _ in Float(rng.nextUniform()) * 2 }
        let margin: Float = 0.05
        // Half the skipped items among the best scores, which would otherwise be candidates.
        let sums: [Float] = zip(dots, prior).map { $0 + $1 }
        let best: [Int32] = (0 ..< n).sorted { sums[$0] > sums[$1] }.prefix(skips / 2).map { Int32($0) }
        let random: [Int32] = (0 ..< skips - skips / 2).map { _ in Int32(rng.next() % UInt64(n)) }
        let skip = Array(Set(best + random)).sorted()
        let allowed = (0 ..< n).filter { !skip.contains(Int32($0)) }
        let lower = allowed.map { (dots[$0] + prior[$0]) - margin * norms[$0] }
        let floor = lower.sorted(by: >)[k - 1]
        let expected = allowed.filter { (dots[$0] + prior[$0]) + margin * norms[$0] >= floor }.map { Int32($0) }
        var heap = [Float](repeating: 0, count: k)
        var candidates = [Int32](repeating: -1, count: n)
        let count = skip.withUnsafeBufferPointer {
            Kernels.screen(dots: dots, prior: prior, norms: norms, margin: margin, count: n, k: k, skipping: $0,
                           heap: &heap, candidates: &candidates)
        }
        #expect(Array(candidates[..<count]) == expected)
        #expect(count >= k)
    }

    /// A layer, float32 or bf16, multiplies only the columns its row blocks use where zeros
    /// fill long stretches (block-diagonal layers): the same products as the whole rows, as a
    /// double reference computes them (of the rounded values in bf16); a dense layer is
    /// multiplied whole.
    @Test(arguments: [1, 7])
    func blockDiagonalLayersSkipTheirZeros(batch: Int) throws {
        // Three members of 200 rows: member j reads columns 200j ..< 200(j+1) and its own 10
        // of the last 30 (W1 on [h ; z]); row block 1 (rows 256-511) spans members 1 and 2.
        let (members, d, df) = (3, 200, 10)
        let (rows, cols) = (members * d, members * (d + df))
        var rng = SeededGenerator(seed: 5)
        var weights = [Float](repeating: 0, count: rows * cols)
        for r in 0 ..< rows {
            let j = r / d
            for c in Array(j * d ..< (j + 1) * d) + Array(members * d + j * df ..< members * d + (j + 1) * df) {
                weights[r * cols + c] = Float(rng.nextGaussian())
            }
        }
        let dense = (0 ..< 300 * 40).map { _ in Float(rng.nextGaussian()) }
        let zeros = [Float](repeating: 0, count: 300 * 40)
        let cases = [(weights, rows, cols, true), (dense, 300, 40, false), (zeros, 300, 40, true)]
        for (values, rows, cols, skips) in cases {
            for precision in [Precision.float32, .bfloat16] {
                let table = try InferenceTable(rows: rows, cols: cols, values: values, precision: precision)
                let found = values.withUnsafeBufferPointer { InferenceTable.nonzeroColumns($0.baseAddress!, rows: rows, cols: cols) }
                #expect((found != nil) == skips)
                let x = (0 ..< batch * cols).map { _ in Float(rng.nextGaussian()) }
                // bf16 layers multiply the rounded values exactly and sum in float32.
                let rounded = precision == .float32 ? x : Self.roundedToBFloat16(x)
                let w = precision == .float32 ? values : Self.roundedToBFloat16(values)
                var xb = [UInt16](repeating: 0, count: x.count)
                Kernels.toBFloat16(x, &xb, count: x.count)
                for accumulate in [false, true] {
                    var y = [Float](repeating: 2, count: batch * rows)
                    x.withUnsafeBufferPointer { x in
                        xb.withUnsafeBufferPointer { xb in
                            let activations = Activations(f32: x.baseAddress!, bf16: precision == .float32 ? nil : xb.baseAddress,
                                                          rows: batch, stride: cols)
                            table.multiply(rows: 0 ..< rows, activations, into: &y, ldy: rows, accumulate: accumulate)
                        }
                    }
                    for b in 0 ..< batch {
                        for r in 0 ..< rows {
                            var (want, magnitude) = (accumulate ? 2.0 : 0, 2.0)
                            for c in 0 ..< cols {
                                let term = Double(w[r * cols + c]) * Double(rounded[b * cols + c])
                                (want, magnitude) = (want + term, magnitude + abs(term))
                            }
                            #expect(abs(Double(y[b * rows + r]) - want) < 1e-4 * magnitude, "row \(r) of \(rows), \(precision)")
                        }
                    }
                }
            }
        }
        // bf16 panels skip whole blocks of 32 columns: runs widen to them and merge where they meet.
        #expect(InferenceTable.columnBlocks([0 ..< 5, 40 ..< 64, 70 ..< 100]) == [0, 4])
        #expect(InferenceTable.columnBlocks([0 ..< 10, 100 ..< 130]) == [0, 1, 3, 5])
        #expect(InferenceTable.columnBlocks([]) == [])
    }

    static func roundedToBFloat16(_ values: [Float]) -> [Float] {
        var halves = [UInt16](repeating: 0, count: values.count)
        Kernels.toBFloat16(values, &halves, count: values.count)
        return halves.map { Float(bitPattern: UInt32($0) << 16) }
    }

    /// OpenBLAS must run the kernels of this CPU: a fallback to its SSE3 ones is 4-5 times
    /// slower (Debian 12's OpenBLAS does not know some newer CPUs).
    @Test func openBLASRunsTheKernelsOfThisCPU() {
        let core = BLAS.kernels
        if ld4mrk_has_avx512bf16() != 0 || cpuSupportsAVX2() {
            #expect(core != "Prescott", "OpenBLAS runs its \(core) kernels")
        }
    }

    @Test func teamsShareRowsAndMeetAtBarriers() {
        let n = 1001
        var values = [Int](repeating: 0, count: n)
        values.withUnsafeMutableBufferPointer { v in
            let base = v.baseAddress!
            ThreadPool.shared.run(threads: 8) { team in
                for i in team.share(of: n, granule: 16) { base[i] = team.rank + 1 }
                team.barrier()
                // After the barrier every member sees every share: each checks all of them.
                for i in team.share(of: n) { base[i] = base[n - 1 - i] > 0 ? base[i] : -1 }
            }
        }
        #expect(values.allSatisfy { $0 > 0 })
        // Shares are contiguous, in rank order, multiples of the granule.
        var starts: [Int] = []
        for i in 0 ..< n where i == 0 || values[i] != values[i - 1] { starts.append(i) }
        #expect(starts.allSatisfy { $0 % 16 == 0 })
        #expect(values == values.sorted())
    }

    /// Units claimed from many threads: each exactly once, and every claimer's work visible
    /// to each thread that returns from `waitForAll`; what is written before a signal opens
    /// is seen by the threads that waited for it.
    @Test func sharedUnitsAreTakenOnceAndWaitedFor() {
        let (units, threads) = (20_000, 8)
        nonisolated(unsafe) let counts = UnsafeMutablePointer<Int>.allocate(capacity: units)
        counts.initialize(repeating: 0, count: units)
        nonisolated(unsafe) let taken = UnsafeMutablePointer<Int>.allocate(capacity: threads)
        nonisolated(unsafe) let sawAll = UnsafeMutablePointer<Bool>.allocate(capacity: threads)
        nonisolated(unsafe) let message = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        defer {
            counts.deallocate()
            taken.deallocate()
            sawAll.deallocate()
            message.deallocate()
        }
        let work = SharedUnits(count: units)
        let signal = Signal()
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            if t == 0 {
                message.pointee = 42
                signal.open()
            }
            var mine = 0
            while let unit = work.claim() {
                counts[unit] += 1
                mine += 1
                work.finish()
            }
            work.waitForAll()
            signal.wait()
            taken[t] = mine
            sawAll[t] = (0 ..< units).allSatisfy { counts[$0] == 1 } && message.pointee == 42
        }
        #expect((0 ..< threads).reduce(0) { $0 + taken[$1] } == units)
        #expect((0 ..< threads).allSatisfy { sawAll[$0] })
        #expect(work.claim() == nil)
    }

    /// Many threads starting teams at once: each finishes, none waits for a busy worker.
    @Test func concurrentTeamsAllFinish() async {
        await withTaskGroup(of: Int.self) { group in
            for caller in 0 ..< 8 {
                group.addTask {
                    var total = 0
                    for round in 0 ..< 200 {
                        let sums = UnsafeMutablePointer<Int>.allocate(capacity: 16)
                        sums.initialize(repeating: 0, count: 16)
                        ThreadPool.shared.run(threads: 2 + (caller + round) % 3) { team in
                            var sum = 0
                            for i in team.share(of: 1000) { sum += i }
                            sums[team.rank] = sum
                            team.barrier()
                        }
                        total += (0 ..< 16).reduce(0) { $0 + sums[$1] }
                        sums.deallocate()
                    }
                    return total
                }
            }
            for await total in group { #expect(total == 200 * 999 * 1000 / 2) }
        }
    }
}

private func Foundation_tanh(_ x: Double) -> Double { tanh(x) }
private func Foundation_exp(_ x: Double) -> Double { exp(x) }
private func cpuSupportsAVX2() -> Bool { ld4mrk_cpu_supports_avx2() != 0 }
