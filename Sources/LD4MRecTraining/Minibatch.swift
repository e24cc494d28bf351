#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore

// Algorithm 1's minibatch: the forward diffusion process on each user's history, the
// condition signals and the soft reconstruction target, written into the workspace.
extension Trainer {
    /// The batch's users, their diffusion steps (with the importance weights) and the soft
    /// targets are drawn here, in order, from the trainer's generator; `seed` is drawn too
    /// and names the random numbers of every row's x_t (`fillRows`), which any member of a
    /// team can then draw. A teacher's term, when distilling, draws nothing.
    func prepareBatch(_ users: [Int], sampler: StepSampler, into ws: TrainingWorkspace) throws -> (steps: [Int], seed: UInt64) {
        let h = hyperparameters
        var steps: [Int] = []
        ws.rows = users.count
        ws.users = users
        ws.lossWeights = []
        for _ in users {
            let (t, weight) = sampler.sample(&rng)
            steps.append(t)
            ws.lossWeights.append(Float(weight))
        }
        // Soft target: each positive becomes 1 - gamma and each zero gamma with
        // probability p; the zeros that move are found by geometric skips.
        let (p, gamma) = (h.softTargetProbability, Float(h.softTargetGamma))
        ws.targetOffsets = [0]
        ws.targetItems.removeAll(keepingCapacity: true)
        ws.targetValues.removeAll(keepingCapacity: true)
        let n = dataset.itemCount
        let logKeep = log1p(-p)
        var moved: [Int32] = []  // zeros set to gamma, ascending
        let teacherRows = try teacher?.rows(of: users)
        var distilled = [Float](repeating: 0, count: teacherRows == nil ? 0 : n)
        for (r, user) in users.enumerated() {
            moved.removeAll(keepingCapacity: true)
            if p > 0 {
                var i = -1
                while true {
                    i += p >= 1 ? 1 : 1 + Int(log(max(rng.nextUniform(), 0x1p-53)) / logKeep)
                    guard i < n else { break }
                    moved.append(Int32(i))
                }
            }
            // Merge the two ascending lists; a positive the skips landed on keeps its own value.
            var next = 0
            let rowStart = ws.targetItems.count
            for item in dataset.train.row(user) {
                let value: Float = p > 0 && rng.nextUniform() < p ? 1 - gamma : 1
                while next < moved.count, moved[next] < item {
                    ws.targetItems.append(moved[next])
                    ws.targetValues.append(gamma)
                    next += 1
                }
                if next < moved.count, moved[next] == item { next += 1 }
                if ws.targetItems.count > rowStart, ws.targetItems.last == item {
                    ws.targetValues[ws.targetValues.count - 1] = value  // a repeated item: the last draw counts
                } else {
                    ws.targetItems.append(item)
                    ws.targetValues.append(value)
                }
            }
            for item in moved[next...] {
                ws.targetItems.append(item)
                ws.targetValues.append(gamma)
            }
            if let q = teacherRows?(r) {
                // Distillation: the row becomes dense, soft target + alpha |history| q.
                let weight = Float(h.distillationWeight * Double(dataset.train.row(user).count))
                for i in 0 ..< n { distilled[i] = weight * q[i] }
                for e in rowStart ..< ws.targetItems.count { distilled[Int(ws.targetItems[e])] += ws.targetValues[e] }
                ws.targetItems.removeSubrange(rowStart...)
                ws.targetValues.removeSubrange(rowStart...)
                ws.targetItems.append(contentsOf: 0 ..< Int32(n))
                ws.targetValues.append(contentsOf: distilled)
            }
            ws.targetOffsets.append(ws.targetItems.count)
        }
        return (steps, rng.next())
    }

    /// Member `team.rank`'s share of the batch's rows: x_t = sqrt(abar_t) x_in +
    /// sqrt(1 - abar_t) eps with inverted input dropout, z = z_t + z_in[u], the
    /// condition signals (from the dropped-out history with conditionsFromDroppedHistory)
    /// and the mask of hidden dropout.
    func fillRows(steps: [Int], seed: UInt64, weights: ParameterVector, into ws: TrainingWorkspace, team: Team) {
        let h = hyperparameters
        let (n, df) = (ws.items, ws.stepSize)
        let dropout = Float(h.inputDropout)
        let zIn = weights[weights.layout.zIn]
        var z = [Float](repeating: 0, count: df)
        for r in team.share(of: ws.rows) {
            let user = ws.users[r]
            let row = ws.x.pointer + r * n
            let noise = Float(oneMinusAlphaBar(steps[r]))
            let rowSeed = seed &+ UInt64(r) &* 0x9E37_79B9_7F4A_7C15
            Kernels.fillGaussian(seed: rowSeed, row, count: n, scale: noise.squareRoot())
            let history = dataset.train.row(user)
            for item in history { row[Int(item)] += (1 - noise).squareRoot() }
            var kept = Array(history)
            if dropout > 0 {
                Kernels.dropout(seed: rowSeed ^ 0xD509_0D50, row, count: n, probability: dropout)
                if h.conditionsFromDroppedHistory { kept = kept.filter { row[Int($0)] != 0 } }
            }
            if let mask = ws.hiddenMask.map({ $0.pointer + r * ws.hidden }) {
                mask.update(repeating: 1, count: ws.hidden)
                Kernels.dropout(seed: rowSeed ^ 0x41DD_E2D0, mask, count: ws.hidden, probability: Float(h.hiddenDropout))
            }
            let embedding = Self.stepEmbedding(steps[r], size: df)
            for j in 0 ..< df { z[j] = embedding[j] + zIn[user * df + j] }
            ws.setZ(row: r, z)
            signals.write(kept, collaborative: ws.collaborative.pointer + r * ws.signalSize,
                          preferences: ws.dims.indices.map { ws.preferences[$0].pointer + r * ws.dims[$0] })
        }
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
