import LD4MRecCore

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
