import CLD4MRecKernels
import Testing
@testable import LD4MRecCore
#if canImport(Glibc)
import Glibc
#endif

/// The library's own kernels against plain references, and the thread pool's contract.
@Suite struct KernelTests {
    @Test func activationsMatchLibm() {
        let xs = stride(from: -30.0, through: 30.0, by: 0.0137).map { Float($0) } + [0, -0, 1e-7, -1e-7, 4e-4, 9, -9, 80, -80]
        var y = [Float](repeating: 0, count: xs.count)
        Kernels.tanh(xs, &y, count: xs.count)
        for (x, got) in zip(xs, y) {
            let want = Float(Foundation_tanh(Double(x)))
            #expect(abs(got - want) <= 4 * Float.ulpOfOne * max(abs(want), 1e-3) || abs(got - want) < 1e-7, "tanh(\(x)) = \(got), want \(want)")
        }
        Kernels.sigmoid(xs, &y, count: xs.count)
        for (x, got) in zip(xs, y) {
            let want = Float(1 / (1 + Foundation_exp(-Double(x))))
            #expect(abs(got - want) <= 1e-6 * max(want, 1e-30) + 1e-30, "sigmoid(\(x)) = \(got), want \(want)")
        }
        let small = xs.filter { abs($0) < 80 }
        var e = [Float](repeating: 0, count: small.count)
        Kernels.exp(small, &e, count: small.count)
        for (x, got) in zip(small, e) {
            let want = Float(Foundation_exp(Double(x)))
            #expect(abs(got - want) <= 4 * Float.ulpOfOne * want, "exp(\(x)) = \(got), want \(want)")
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

    /// The VDPBF16PS path and the widening path compute the same products; both agree with
    /// a double-precision sum of the rounded values.
    @Test func bfloat16GEMVPathsAgree() {
        var rng = SeededGenerator(seed: 9)
        for (rows, cols) in [(1, 1), (5, 31), (9, 33), (64, 1000), (7, 77)] {
            let w = (0 ..< rows * cols).map { _ in Float(rng.nextGaussian()) }
            let x = (0 ..< cols).map { _ in Float(rng.nextGaussian()) }
            var wb = [UInt16](repeating: 0, count: w.count), xb = [UInt16](repeating: 0, count: x.count)
            Kernels.toBFloat16(w, &wb, count: w.count)
            Kernels.toBFloat16(x, &xb, count: x.count)
            var fast = [Float](repeating: 0, count: rows), plain = fast
            ld4mrk_gemv_bf16(wb, cols, rows, cols, xb, &fast, 1)
            ld4mrk_gemv_bf16(wb, cols, rows, cols, xb, &plain, 0)
            for r in 0 ..< rows {
                var exact = 0.0
                for c in 0 ..< cols {
                    exact += Double(Float(bitPattern: UInt32(wb[r * cols + c]) << 16)) * Double(Float(bitPattern: UInt32(xb[c]) << 16))
                }
                let tolerance = 1e-5 * Double(cols).squareRoot() * max(1, abs(exact))
                #expect(abs(Double(fast[r]) - exact) < tolerance, "\(rows)x\(cols) row \(r): \(fast[r]) vs \(exact)")
                #expect(abs(Double(plain[r]) - exact) < tolerance, "\(rows)x\(cols) row \(r): \(plain[r]) vs \(exact)")
            }
        }
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
