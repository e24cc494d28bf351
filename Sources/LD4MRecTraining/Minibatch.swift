#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore

// Algorithm 1's minibatch: the forward diffusion process on each user's history, the
// condition signals and the soft reconstruction target.
extension Trainer {
    /// Builds x_t, the condition signals, z_t and the soft target for a batch of users.
    func makeBatch(_ users: [Int], sampler: inout StepSampler) -> (TrainingBatch, [Int]) {
        let h = hyperparameters
        let n = dataset.itemCount
        let b = users.count
        var steps: [Int] = []
        var lossWeights: [Float] = []
        for _ in users {
            let (t, weight) = sampler.sample(&rng)
            steps.append(t)
            lossWeights.append(Float(weight))
        }

        // x_t = sqrt(abar_t) x_in + sqrt(1 - abar_t) eps, then input dropout (inverted).
        var x = Matrix(zeros: b, n)
        x.values.withUnsafeMutableBufferPointer { rng.fillGaussian($0) }
        var histories: [[Int32]] = []
        let dropout = Float(h.inputDropout)
        for (r, user) in users.enumerated() {
            let noise = Float(oneMinusAlphaBar(steps[r]))
            let (signal, spread) = ((1 - noise).squareRoot(), noise.squareRoot())
            for i in 0 ..< n { x.values[r * n + i] *= spread }
            for item in dataset.train.row(user) { x.values[r * n + Int(item)] += signal }
            var kept = Array(dataset.train.row(user))
            if dropout > 0 {
                for i in 0 ..< n {
                    if Float(rng.nextUniform()) < dropout { x.values[r * n + i] = 0 } else { x.values[r * n + i] /= 1 - dropout }
                }
                if h.conditionsFromDroppedHistory { kept = kept.filter { x.values[r * n + Int($0)] != 0 } }
            }
            histories.append(kept)
        }
        let (collaborative, preferences) = signals.compute(histories)

        // Soft target: positives become 1 - gamma, zeros gamma, each with probability p.
        var target = Matrix(zeros: b, n)
        let (p, gamma) = (h.softTargetProbability, Float(h.softTargetGamma))
        for (r, user) in users.enumerated() {
            if p > 0 { for i in 0 ..< n where rng.nextUniform() < p { target.values[r * n + i] = gamma } }
            for item in dataset.train.row(user) {
                target.values[r * n + Int(item)] = p > 0 && rng.nextUniform() < p ? 1 - gamma : 1
            }
        }

        var stepEmbedding = Matrix(zeros: b, h.stepEmbeddingSize)
        for (r, t) in steps.enumerated() {
            let embedding = Self.stepEmbedding(t, size: h.stepEmbeddingSize)
            for c in embedding.indices { stepEmbedding[r, c] = embedding[c] }
        }
        return (TrainingBatch(users: users, x: x, stepEmbedding: stepEmbedding, collaborative: collaborative,
                              preferences: preferences, target: target, lossWeights: lossWeights), steps)
    }

    /// 1 - abar_t = s_noise (a_min + (t - 1) / (T - 1) (1 - a_min)), t = 1...T.
    func oneMinusAlphaBar(_ t: Int) -> Double {
        let h = hyperparameters
        let fraction = h.steps > 1 ? Double(t - 1) / Double(h.steps - 1) : 0
        return h.noiseScale * (h.noiseMin + fraction * (1 - h.noiseMin))
    }

    /// z_t[2j] = sin(t / 10000^(2j/d_f)), z_t[2j+1] = cos(t / 10000^(2j/d_f)).
    static func stepEmbedding(_ t: Int, size: Int) -> [Float] {
        (0 ..< size).map { c in
            let j = c / 2
            let angle = Double(t) / pow(10000, Double(2 * j) / Double(size))
            return Float(c % 2 == 0 ? sin(angle) : cos(angle))
        }
    }
}
