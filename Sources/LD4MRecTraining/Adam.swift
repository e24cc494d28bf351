#if canImport(Glibc)
import Glibc
#endif

/// Adam (Kingma & Ba), with PyTorch's conventions: bias-corrected moments, eps added to
/// the corrected root, weight decay as an L2 term added to the gradient.
struct AdamOptimizer {
    let learningRate: Float
    let weightDecay: Float
    let beta1: Float = 0.9
    let beta2: Float = 0.999
    let epsilon: Float = 1e-8
    private var firstMoment: TrainableWeights
    private var secondMoment: TrainableWeights
    private var step = 0
    private let paths: [WritableKeyPath<TrainableWeights, [Float]>]

    init(for weights: TrainableWeights, learningRate: Double, weightDecay: Double) {
        self.learningRate = Float(learningRate)
        self.weightDecay = Float(weightDecay)
        firstMoment = weights.zeros()
        secondMoment = weights.zeros()
        paths = weights.tensors
    }

    mutating func update(_ weights: inout TrainableWeights, gradients: TrainableWeights) {
        step += 1
        let correction1 = 1 - pow(beta1, Float(step))
        let correction2 = 1 - pow(beta2, Float(step))
        let stepSize = learningRate / correction1
        let rootCorrection = correction2.squareRoot()
        let (b1, b2, eps, wd) = (beta1, beta2, epsilon, weightDecay)
        for path in paths {
            gradients[keyPath: path].withUnsafeBufferPointer { g in
                weights[keyPath: path].withUnsafeMutableBufferPointer { p in
                    firstMoment[keyPath: path].withUnsafeMutableBufferPointer { m in
                        secondMoment[keyPath: path].withUnsafeMutableBufferPointer { v in
                            for i in p.indices {
                                let grad = g[i] + wd * p[i]
                                m[i] = b1 * m[i] + (1 - b1) * grad
                                v[i] = b2 * v[i] + (1 - b2) * grad * grad
                                p[i] -= stepSize * m[i] / (v[i].squareRoot() / rootCorrection + eps)
                            }
                        }
                    }
                }
            }
        }
    }
}
