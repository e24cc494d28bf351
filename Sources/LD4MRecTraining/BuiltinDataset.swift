#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore

/// The built-in multimodal dataset: generated deterministically, small enough to train on
/// in about a minute, with structure the model can learn. Items belong to latent topics;
/// users prefer a few topics; each interaction is drawn with probability proportional to
/// exp(affinity + popularity); the two modalities ("image", "text") are noisy linear views
/// of the item's latent vector, so features carry part of the signal. A popularity ranking
/// scores clearly below a model that learns the preferences.
public struct BuiltinDataset: Sendable {
    public var users = 2000
    public var items = 1000
    public var topics = 20
    public var latentSize = 12
    public var meanInteractions = 24
    public var seed: UInt64 = 2024

    public init() {}

    public func generate() -> Dataset {
        var rng = SeededGenerator(seed: seed)
        let r = latentSize
        func gaussians(_ count: Int, _ scale: Double = 1) -> [Double] { (0 ..< count).map { _ in rng.nextGaussian() * scale } }

        let centers = (0 ..< topics).map { _ in gaussians(r) }
        var itemLatent: [[Double]] = []
        var popularity: [Double] = []
        for _ in 0 ..< items {
            let topic = Int(rng.next() % UInt64(topics))
            itemLatent.append(zip(centers[topic], gaussians(r, 0.5)).map { $0 + $1 })
            popularity.append(rng.nextGaussian() * 0.8)
        }
        func view(_ dimension: Int, noise: Double) -> Matrix {
            let projection = gaussians(dimension * r, 1 / Double(r).squareRoot())
            var features = Matrix(zeros: items, dimension)
            for i in 0 ..< items {
                for c in 0 ..< dimension {
                    var value = rng.nextGaussian() * noise
                    for j in 0 ..< r { value += projection[c * r + j] * itemLatent[i][j] }
                    features[i, c] = Float(value)
                }
            }
            return features
        }
        let modalities = [Modality(name: "image", features: view(32, noise: 0.7)),
                          Modality(name: "text", features: view(24, noise: 1.0))]

        var splits = [[[Int32]]](repeating: [[Int32]](repeating: [], count: users), count: 3)
        for u in 0 ..< users {
            let liked = (0 ..< 1 + Int(rng.next() % 2)).map { _ in centers[Int(rng.next() % UInt64(topics))] }
            var taste = [Double](repeating: 0, count: r)
            for center in liked { for j in 0 ..< r { taste[j] += center[j] / Double(liked.count) } }
            for j in 0 ..< r { taste[j] += rng.nextGaussian() * 0.3 }
            // Gumbel-top-L: L draws without replacement, p_i proportional to exp(logit_i).
            let length = max(5, meanInteractions / 2 + Int(rng.next() % UInt64(meanInteractions)))
            let keys = (0 ..< items).map { i -> (Double, Int) in
                let affinity = zip(taste, itemLatent[i]).reduce(0) { $0 + $1.0 * $1.1 } / Double(r).squareRoot()
                let gumbel = -log(-log(max(rng.nextUniform(), 1e-300)))
                return (1.5 * affinity + popularity[i] + gumbel, i)
            }
            let chosen = keys.sorted { $0.0 > $1.0 }.prefix(length).map(\.1)
            for (position, item) in chosen.enumerated() {
                // 80% train, 10% validation, 10% test, by a shuffled order.
                let split = position % 10 == 8 ? 1 : position % 10 == 9 ? 2 : 0
                splits[split][u].append(Int32(item))
            }
        }
        return Dataset(name: "builtin", userCount: users, itemCount: items, train: CSRHistories(rows: splits[0]),
                       validation: CSRHistories(rows: splits[1]), test: CSRHistories(rows: splits[2]), modalities: modalities)
    }
}
