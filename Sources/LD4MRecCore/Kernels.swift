import CLD4MRecKernels

/// The elementwise kernels of CLD4MRecKernels (vectorised for the CPU at run time), for
/// the layers above Core.
package enum Kernels {
    /// x = tanh(x) over `count` floats.
    @inline(__always)
    package static func tanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        ld4mrk_tanh(x, count)
    }

    /// x = 1 / (1 + exp(-x)).
    @inline(__always)
    package static func sigmoid(_ x: UnsafeMutablePointer<Float>, count: Int) {
        ld4mrk_sigmoid(x, count)
    }

    /// x = exp(x).
    @inline(__always)
    package static func exp(_ x: UnsafeMutablePointer<Float>, count: Int) {
        ld4mrk_exp(x, count)
    }

    /// Training's forward through one CG/PG block for one user's `count` hidden units: the
    /// gate mix of a, c and g, each modality's FiLM step (recording h before and after it
    /// at `offset` in the per-modality tables), h into `out`, and `next` the next block's
    /// input (leaky ReLU unless `last`).
    package static func blockForward(_ a: UnsafePointer<Float>, _ c: UnsafePointer<Float>, gate g: UnsafePointer<Float>,
                                     scales: [UnsafePointer<Float>?], shifts: [UnsafePointer<Float>?],
                                     filmInputs: [UnsafeMutablePointer<Float>?], filmOutputs: [UnsafeMutablePointer<Float>?],
                                     offset: Int, into out: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>,
                                     last: Bool, slope: Float, count: Int) {
        ld4mrk_block_forward(a, c, g, scales.count, scales, shifts, filmInputs, filmOutputs, offset, out, next,
                             last ? 1 : 0, slope, count)
    }

    /// dx *= (pre < 0 ? slope : 1): leaky ReLU's backward step.
    @inline(__always)
    package static func leakyReLUBackward(_ dx: UnsafeMutablePointer<Float>, pre: UnsafePointer<Float>, count: Int, slope: Float) {
        ld4mrk_leaky_relu_backward(dx, pre, count, slope)
    }

    /// Of x' = scale x + shift: dscale = dh x, dx = dh scale.
    @inline(__always)
    package static func filmBackward(_ dh: UnsafePointer<Float>, input: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                                     dScale: UnsafeMutablePointer<Float>, dInput: UnsafeMutablePointer<Float>, count: Int) {
        ld4mrk_film_backward(dh, input, scale, dScale, dInput, count)
    }

    /// Of h = a (1 - g) + c g with a = tanh(.), c = tanh(.), g = sigmoid(.): the gradients
    /// at the three pre-activations.
    @inline(__always)
    package static func gateMixBackward(_ a: UnsafePointer<Float>, _ c: UnsafePointer<Float>, gate g: UnsafePointer<Float>,
                                        dh: UnsafePointer<Float>, dA: UnsafeMutablePointer<Float>, dC: UnsafeMutablePointer<Float>,
                                        dG: UnsafeMutablePointer<Float>, count: Int) {
        ld4mrk_gate_mix_backward(a, c, g, dh, dA, dC, dG, count)
    }

    /// The index of the first NaN or infinity of `values`, nil if all are finite.
    package static func firstNonFinite(_ values: [Float]) -> Int? {
        let index = values.withUnsafeBufferPointer { ld4mrk_first_nonfinite($0.baseAddress, $0.count) }
        return index < values.count ? index : nil
    }

    /// The candidates of a screened top-k (`ld4mrk_screen`): the allowed items whose upper
    /// bound reaches the k-th best lower bound; returns how many were written.
    package static func screen(dots: UnsafePointer<Float>, prior: UnsafePointer<Float>, norms: UnsafePointer<Float>,
                               margin: Float, count n: Int, k: Int, skipping skip: UnsafeBufferPointer<Int32>,
                               heap: inout [Float], candidates: inout [Int32]) -> Int {
        ld4mrk_screen(dots, prior, norms, margin, n, k, skip.baseAddress, skip.count, &heap, &candidates)
    }

    /// y += b.
    @inline(__always)
    package static func add(_ b: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int) {
        ld4mrk_add(b, y, count)
    }

    /// y *= b, elementwise.
    @inline(__always)
    package static func multiply(_ y: UnsafeMutablePointer<Float>, by b: UnsafePointer<Float>, count: Int) {
        ld4mrk_mul(b, y, count)
    }

    /// `y += alpha_i row items[i]` of `table` for each of `items`, in order, with
    /// `alpha_i = weights[items[i]] * scale`, or 1 without weights.
    @inline(__always)
    package static func gatherAxpy(_ table: UnsafeBufferPointer<Float>, cols: Int, items: UnsafeBufferPointer<Int32>,
                                   weights: UnsafeBufferPointer<Float>? = nil, scale: Float = 1, to y: UnsafeMutablePointer<Float>) {
        ld4mrk_gather_axpy(table.baseAddress, cols, items.baseAddress, items.count, weights?.baseAddress, scale, y)
    }

    /// `y[columns[e]] += values[e]` for the entries whose column is in `range` (columns
    /// ascending and unique: a row of a sparse table).
    @inline(__always)
    package static func addSparseRow(_ columns: UnsafePointer<Int32>, _ values: UnsafePointer<Float>, count: Int,
                                     columns range: Range<Int>, to y: UnsafeMutablePointer<Float>) {
        ld4mrk_add_sparse_row(columns, values, count, Int32(clamping: range.lowerBound), Int32(clamping: range.upperBound), y)
    }

    /// x = x where x >= 0, slope x elsewhere.
    @inline(__always)
    package static func leakyReLU(_ x: UnsafeMutablePointer<Float>, count: Int, slope: Float) {
        ld4mrk_leaky_relu(x, count, slope)
    }

    /// The CG block's mix: out = a (1 - g) + c g.
    @inline(__always)
    package static func gateMix(_ a: UnsafePointer<Float>, _ c: UnsafePointer<Float>, gate g: UnsafePointer<Float>,
                                into out: UnsafeMutablePointer<Float>, count: Int) {
        ld4mrk_gate_mix(a, c, g, out, count)
    }

    /// A FiLM step: x = scale x + shift.
    @inline(__always)
    package static func film(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>, count: Int) {
        ld4mrk_film(scale, shift, x, count)
    }

    /// y = x rounded to bfloat16 (nearest even).
    @inline(__always)
    package static func toBFloat16(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt16>, count: Int) {
        ld4mrk_to_bf16(x, y, count)
    }

    /// Gaussians: out[i] = scale * N(0, 1), a pure function of `seed`.
    @inline(__always)
    package static func fillGaussian(seed: UInt64, _ out: UnsafeMutablePointer<Float>, count: Int, scale: Float) {
        ld4mrk_fill_gaussian(seed, out, count, scale)
    }

    /// Inverted dropout with probability p, a pure function of `seed`.
    @inline(__always)
    package static func dropout(seed: UInt64, _ x: UnsafeMutablePointer<Float>, count: Int, probability p: Float) {
        ld4mrk_dropout(seed, x, count, p)
    }

    /// One Adam step over `count` parameters.
    @inline(__always)
    package static func adam(parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                             first m: UnsafeMutablePointer<Float>, second v: UnsafeMutablePointer<Float>, count: Int,
                             stepSize: Float, rootCorrection: Float, beta1: Float, beta2: Float, epsilon: Float,
                             weightDecay: Float) {
        ld4mrk_adam(p, g, m, v, count, stepSize, rootCorrection, beta1, beta2, epsilon, weightDecay)
    }
}
