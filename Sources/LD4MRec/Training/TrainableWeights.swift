/// The learned part of a model: C-Net weights and the per-user z_in table. Parameters,
/// their gradients and Adam's moments are all values of this type.
struct TrainableWeights {
    var input: DenseLayer
    var blocks: [CNetBlock]
    var output: DenseLayer
    var zIn: Matrix

    init(input: DenseLayer, blocks: [CNetBlock], output: DenseLayer, zIn: Matrix) {
        self.input = input
        self.blocks = blocks
        self.output = output
        self.zIn = zIn
    }

    init(_ parameters: ModelParameters) {
        self.init(input: parameters.input, blocks: parameters.blocks, output: parameters.output, zIn: parameters.zIn)
    }

    /// Every tensor, as key paths to its storage.
    var tensors: [WritableKeyPath<TrainableWeights, [Float]>] {
        func dense(_ layer: WritableKeyPath<TrainableWeights, DenseLayer>) -> [WritableKeyPath<TrainableWeights, [Float]>] {
            [layer.appending(path: \.weight.values), layer.appending(path: \.bias)]
        }
        var paths = dense(\.input) + dense(\.output) + [\.zIn.values]
        for s in blocks.indices {
            paths += dense(\.blocks[s].hidden) + dense(\.blocks[s].condition) + dense(\.blocks[s].gate)
            for m in blocks[s].filmScale.indices {
                let scale: WritableKeyPath<TrainableWeights, FiLMNetwork> = \.blocks[s].filmScale[m]
                let shift: WritableKeyPath<TrainableWeights, FiLMNetwork> = \.blocks[s].filmShift[m]
                for film in [scale, shift] {
                    paths += dense(film.appending(path: \.fc1)) + dense(film.appending(path: \.fc2))
                }
            }
        }
        return paths
    }

    /// The same shapes, all zero.
    func zeros() -> TrainableWeights {
        var result = self
        for path in tensors { result[keyPath: path] = [Float](repeating: 0, count: self[keyPath: path].count) }
        return result
    }

    mutating func setZero() {
        for path in tensors {
            self[keyPath: path].withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
    }
}

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

#if canImport(Glibc)
import Glibc
#endif
