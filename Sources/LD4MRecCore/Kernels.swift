import CLD4MRecKernels

/// The elementwise kernels of CLD4MRecKernels (vectorised for the CPU at run time), for
/// the layers above Core.
package enum Kernels {
    /// y = tanh(x) over `count` floats (y may be x).
    @inline(__always)
    package static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        ld4mrk_tanh(x, y, count)
    }

    /// y = 1 / (1 + exp(-x)).
    @inline(__always)
    package static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        ld4mrk_sigmoid(x, y, count)
    }

    /// y = exp(x).
    @inline(__always)
    package static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        ld4mrk_exp(x, y, count)
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
