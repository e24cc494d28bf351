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

/// A table of rows in float32 or bf16: weights of a dense layer (outputs x inputs), or
/// the rows a history gathers (W_in^T, the item-item prior).
package struct InferenceTable: Sendable {
    package let rows: Int
    package let cols: Int
    package let precision: Precision
    private let float32: AlignedBuffer<Float>?
    private let bfloat16: AlignedBuffer<UInt16>?

    /// `values` (rows x cols, row-major) times `scale`, stored in `precision`.
    package init(rows: Int, cols: Int, values: [Float], precision: Precision, scale: Float = 1) {
        self.rows = rows
        self.cols = cols
        self.precision = precision
        let scaled = scale == 1 ? values : values.map { $0 * scale }
        switch precision {
        case .float32:
            float32 = AlignedBuffer(scaled)
            bfloat16 = nil
        case .bfloat16:
            float32 = nil
            let halves = AlignedBuffer<UInt16>(uninitialized: scaled.count)
            scaled.withUnsafeBufferPointer { ld4mrk_to_bf16($0.baseAddress, halves.pointer, scaled.count) }
            bfloat16 = halves
        }
    }

    package var bytes: Int { (float32?.count ?? 0) * 4 + (bfloat16?.count ?? 0) * 2 }

    /// Rows are multiplied in fixed blocks of this many (the last one shorter): a row's
    /// result depends on its block only, never on how a team split the rows, so scores do
    /// not change with the number of threads. Teams split rows in multiples of it.
    package static let rowBlock = 256

    /// `y += alpha * row r`.
    package func addRow(_ r: Int, alpha: Float = 1, to y: UnsafeMutablePointer<Float>, columns: Range<Int>? = nil) {
        let columns = columns ?? 0 ..< cols
        if let float32 {
            BLAS.axpy(alpha, float32.pointer + r * cols + columns.lowerBound, y, count: columns.count)
        } else if let bfloat16 {
            ld4mrk_axpy_bf16(alpha, bfloat16.pointer + r * cols + columns.lowerBound, y, columns.count)
        }
    }

    /// `y[b * ldy + i] = row (rows.lowerBound + i) . x[b]` for every activation row b: one
    /// slice of a layer's output for a batch (no bias).
    package func multiply(rows slice: Range<Int>, _ x: Activations, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        guard !slice.isEmpty, x.rows > 0 else { return }
        var start = slice.lowerBound
        while start < slice.upperBound {
            let end = min(slice.upperBound, (start / Self.rowBlock + 1) * Self.rowBlock)
            multiplyBlock(rows: start ..< end, x, into: y + (start - slice.lowerBound), ldy: ldy)
            start = end
        }
    }

    private func multiplyBlock(rows slice: Range<Int>, _ x: Activations, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        if let float32 {
            let first = float32.pointer + slice.lowerBound * cols
            if x.rows == 1 {
                BLAS.gemv(first, lda: cols, x.f32, y, m: slice.count, n: cols)
            } else {
                BLAS.gemmABt(x.f32, lda: x.stride, first, ldb: cols, y, ldc: ldy, m: x.rows, n: slice.count, k: cols)
            }
        } else if let bfloat16, let xb = x.bf16 {  // bf16 layers are always given bf16 activations
            let first = bfloat16.pointer + slice.lowerBound * cols
            for b in 0 ..< x.rows {
                ld4mrk_gemv_bf16(first, cols, slice.count, cols, xb + b * x.stride, y + b * ldy, 1)
            }
        }
    }

    /// Row r . x (a candidate's score).
    package func dot(row r: Int, _ x: Activations) -> Float {
        var result: Float = 0
        multiply(rows: r ..< r + 1, x, into: &result, ldy: 1)
        return result
    }
}
