import Testing
@testable import LD4MRecCore
@testable import LD4MRecTraining

/// Backward passes against central finite differences on tiny models.
@Suite struct GradientTests {
    static func randomMatrix(_ rows: Int, _ cols: Int, _ rng: inout SeededGenerator, scale: Double = 1) -> Matrix {
        Matrix(unchecked: rows, cols, (0 ..< rows * cols).map { _ in Float(rng.nextGaussian() * scale) })
    }

    /// Compares analytic gradients of `loss` at every entry of every tensor with central
    /// differences; returns the worst violation of |num - ana| <= 2e-3 + 3e-2 |ana|.
    static func check(_ weights: TrainableWeights, loss: (TrainableWeights) -> Double,
                      analytic: TrainableWeights) -> (worst: Double, checked: Int) {
        var worst = 0.0
        var checked = 0
        let eps: Float = 3e-3
        for path in weights.tensors {
            for i in weights[keyPath: path].indices {
                var plus = weights, minus = weights
                plus[keyPath: path][i] += eps
                minus[keyPath: path][i] -= eps
                let numeric = (loss(plus) - loss(minus)) / Double(2 * eps)
                let exact = Double(analytic[keyPath: path][i])
                worst = max(worst, abs(numeric - exact) - (2e-3 + 3e-2 * abs(exact)))
                checked += 1
            }
        }
        return (worst, checked)
    }

    @Test func denseLayerBackward() {
        var rng = SeededGenerator(seed: 11)
        let layer = DenseLayer(weight: Self.randomMatrix(3, 5, &rng), bias: (0 ..< 3).map { _ in Float(rng.nextGaussian()) })
        let x = Self.randomMatrix(4, 5, &rng)
        let upstream = Self.randomMatrix(4, 3, &rng)
        func loss(_ l: DenseLayer, _ x: Matrix) -> Double {
            zip(l.forward(x).values, upstream.values).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
        var gradient = DenseLayer(weight: Matrix(zeros: 3, 5), bias: [0, 0, 0])
        layer.accumulateGradients(input: x, outputGradient: upstream, into: &gradient)
        let dx = layer.inputGradient(upstream)
        let eps: Float = 1e-2
        for i in layer.weight.values.indices {
            var p = layer, m = layer
            p.weight.values[i] += eps
            m.weight.values[i] -= eps
            #expect(abs((loss(p, x) - loss(m, x)) / Double(2 * eps) - Double(gradient.weight.values[i])) < 1e-3)
        }
        for i in layer.bias.indices {
            var p = layer, m = layer
            p.bias[i] += eps
            m.bias[i] -= eps
            #expect(abs((loss(p, x) - loss(m, x)) / Double(2 * eps) - Double(gradient.bias[i])) < 1e-3)
        }
        for i in x.values.indices {
            var p = x, m = x
            p.values[i] += eps
            m.values[i] -= eps
            #expect(abs((loss(layer, p) - loss(layer, m)) / Double(2 * eps) - Double(dx.values[i])) < 1e-3)
        }
    }

    @Test func filmNetworkBackward() {
        var rng = SeededGenerator(seed: 12)
        let network = FiLMNetwork(
            fc1: DenseLayer(weight: Self.randomMatrix(4, 3, &rng), bias: (0 ..< 4).map { _ in Float(rng.nextGaussian()) }),
            fc2: DenseLayer(weight: Self.randomMatrix(5, 4, &rng), bias: (0 ..< 5).map { _ in Float(rng.nextGaussian()) }))
        let p = Self.randomMatrix(2, 3, &rng)
        let upstream = Self.randomMatrix(2, 5, &rng)
        func loss(_ n: FiLMNetwork) -> Double {
            let out = n.fc2.forward(n.fc1.forward(p).leakyReLU(slope: 0.2))
            return zip(out.values, upstream.values).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
        var gradient = network
        for path: WritableKeyPath<FiLMNetwork, [Float]> in [\.fc1.weight.values, \.fc1.bias, \.fc2.weight.values, \.fc2.bias] {
            gradient[keyPath: path] = gradient[keyPath: path].map { _ in 0 }
        }
        network.backward(input: p, hiddenPre: network.fc1.forward(p), outputGradient: upstream, slope: 0.2, into: &gradient)
        let eps: Float = 3e-3
        for path: WritableKeyPath<FiLMNetwork, [Float]> in [\.fc1.weight.values, \.fc1.bias, \.fc2.weight.values, \.fc2.bias] {
            for i in network[keyPath: path].indices {
                var plus = network, minus = network
                plus[keyPath: path][i] += eps
                minus[keyPath: path][i] -= eps
                let numeric = (loss(plus) - loss(minus)) / Double(2 * eps)
                #expect(abs(numeric - Double(gradient[keyPath: path][i])) < 2e-3 + 2e-2 * abs(numeric))
            }
        }
    }

    @Test(arguments: [Hyperparameters.Loss.squaredError, .multinomial], [[("image", 3), ("audio", 2)], []])
    func wholeCNetBackward(loss kind: Hyperparameters.Loss, modalities: [(String, Int)]) throws {
        var spec = smallSpec(modalities: modalities)
        spec.items = 7
        spec.users = 5
        spec.hyperparameters.hiddenSize = 4
        spec.hyperparameters.svdRank = 2
        spec.hyperparameters.filmHiddenSize = 3
        let parameters = try ModelParameters.synthetic(spec)
        let weights = TrainableWeights(parameters)
        var rng = SeededGenerator(seed: 5)
        let b = 3
        let batch = TrainingBatch(
            users: [4, 1, 4],
            x: Self.randomMatrix(b, 7, &rng),
            stepEmbedding: Self.randomMatrix(b, 4, &rng, scale: 0.5),
            collaborative: Self.randomMatrix(b, 4, &rng),
            preferences: modalities.map { Self.randomMatrix(b, $0.1, &rng) },
            target: Matrix(unchecked: b, 7, (0 ..< b * 7).map { _ in Float(rng.next() % 2) }),
            lossWeights: [1, 0.5, 2])
        func loss(_ w: TrainableWeights) -> Double {
            var scratch = w.zeros()
            return CNetTraining.lossAndGradients(w, slope: 0.2, loss: kind, batch: batch, gradients: &scratch).loss
        }
        var analytic = weights.zeros()
        _ = CNetTraining.lossAndGradients(weights, slope: 0.2, loss: kind, batch: batch, gradients: &analytic)
        let (worst, checked) = Self.check(weights, loss: loss, analytic: analytic)
        #expect(checked > 200)
        #expect(worst <= 0, "worst tolerance violation \(worst)")
    }
}
