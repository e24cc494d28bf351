import LD4MRecCore

/// Importance sampling over diffusion steps (docs/MODEL.md): uniform with weight 1 until
/// every step holds 10 loss records, then p_t proportional to sqrt(mean of squared
/// records) with a uniform floor of 0.001, and weight 1 / (T p_t).
struct StepSampler {
    let steps: Int
    let importance: Bool
    private var records: [[Double]]
    static let history = 10
    static let uniformFloor = 0.001

    init(steps: Int, importance: Bool) {
        self.steps = steps
        self.importance = importance
        records = [[Double]](repeating: [], count: steps)
    }

    var probabilities: [Double]? {
        guard importance, records.allSatisfy({ $0.count == Self.history }) else { return nil }
        let raw = records.map { ($0.reduce(0) { $0 + $1 * $1 } / Double($0.count)).squareRoot() }
        let total = raw.reduce(0, +)
        guard total > 0, total.isFinite else { return nil }
        return raw.map { $0 / total * (1 - Self.uniformFloor) + Self.uniformFloor / Double(steps) }
    }

    /// A step t in 1...T and its loss weight.
    func sample(_ rng: inout SeededGenerator) -> (Int, Double) {
        guard let p = probabilities else { return (1 + Int(rng.next() % UInt64(steps)), 1) }
        var u = rng.nextUniform()
        for (index, probability) in p.enumerated() {
            if u < probability || index == steps - 1 { return (index + 1, 1 / (Double(steps) * probability)) }
            u -= probability
        }
        return (steps, 1 / (Double(steps) * p[steps - 1]))
    }

    /// One record per step drawn in the batch: the mean unweighted loss of its users.
    mutating func record(steps drawn: [Int], losses: [Double]) {
        var sums = [Double](repeating: 0, count: steps)
        var counts = [Int](repeating: 0, count: steps)
        for (t, loss) in zip(drawn, losses) {
            sums[t - 1] += loss
            counts[t - 1] += 1
        }
        for t in 0 ..< steps where counts[t] > 0 {
            records[t].append(sums[t] / Double(counts[t]))
            if records[t].count > Self.history { records[t].removeFirst() }
        }
    }
}
