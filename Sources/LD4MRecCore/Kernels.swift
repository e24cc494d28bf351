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
}
