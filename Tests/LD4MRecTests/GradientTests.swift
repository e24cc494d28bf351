import Testing
@testable import LD4MRecCore
@testable import LD4MRecServing
@testable import LD4MRecTraining

/// The training step's backward pass against central finite differences on tiny models,
/// and its forward pass against serving's.
@Suite struct GradientTests {
    /// A tiny synthetic model and a batch of 3 rows (user 4 twice) with random x_t, z_t,
    /// signals, a sparse soft target and importance weights.
    struct Fixture {
        let parameters: ModelParameters
        let weights: ParameterVector
        let workspace: TrainingWorkspace
        let stepEmbedding: [[Float]]
        let loss: Hyperparameters.Loss

        init(loss: Hyperparameters.Loss, modalities: [(String, Int)], blocks: Int = 2, items: Int = 7, hidden: Int = 4,
             hiddenDropout: Bool = false) throws {
            var spec = smallSpec(modalities: modalities, blocks: blocks)
            (spec.items, spec.users) = (items, 5)
            spec.hyperparameters.hiddenSize = hidden
            spec.hyperparameters.svdRank = 2
            spec.hyperparameters.filmHiddenSize = 3
            spec.itemItemPrior = false
            parameters = try ModelParameters.synthetic(spec)
            weights = try ParameterVector(parameters)
            workspace = try TrainingWorkspace(weights.layout, capacity: 3, hiddenDropout: hiddenDropout)
            self.loss = loss
            var rng = SeededGenerator(seed: 5)
            func gaussians(_ count: Int, _ scale: Double = 1) -> [Float] { (0 ..< count).map { _ in Float(rng.nextGaussian() * scale) } }
            let ws = workspace
            ws.rows = 3
            ws.users = [4, 1, 4]
            ws.lossWeights = [1, 0.5, 2]
            ws.x.pointer.update(from: gaussians(3 * ws.items), count: 3 * ws.items)
            ws.collaborative.pointer.update(from: gaussians(3 * ws.signalSize), count: 3 * ws.signalSize)
            for (m, dim) in ws.dims.enumerated() { ws.preferences[m].pointer.update(from: gaussians(3 * dim), count: 3 * dim) }
            stepEmbedding = (0 ..< 3).map { _ in gaussians(ws.stepSize, 0.5) }
            if let mask = ws.hiddenMask {  // dropout 0.5: each unit 0 or 2
                for i in 0 ..< 3 * ws.hidden { mask.pointer[i] = rng.next() % 2 == 0 ? 0 : 2 }
            }
            ws.targetOffsets = [0]
            for _ in 0 ..< 3 {
                for item in 0 ..< Int32(ws.items) where rng.next() % 3 == 0 {
                    ws.targetItems.append(item)
                    ws.targetValues.append(Float(rng.nextUniform() * 0.9 + 0.1))
                }
                ws.targetOffsets.append(ws.targetItems.count)
            }
        }

        /// The batch loss at `w`; with `gradients`, also its gradient.
        func loss(_ w: ParameterVector, gradients: ParameterVector? = nil, threads: Int = 2) throws -> Double {
            let ws = workspace
            let zIn = w[w.layout.zIn]
            for r in 0 ..< 3 {
                let z = (0 ..< ws.stepSize).map { stepEmbedding[r][$0] + zIn[ws.users[r] * ws.stepSize + $0] }
                ws.setZ(row: r, z)
            }
            let step = TrainingStep(weights: w, gradients: try gradients ?? ParameterVector(zeros: w.layout), workspace: ws,
                                    slope: 0.2, loss: loss)
            var result = 0.0
            ThreadPool.shared.run(threads: threads) { team in
                let total = step.run(team)
                if team.rank == 0 { result = total }
            }
            return result
        }
    }

    /// Members claim blocks of columns, items and whole FiLM networks as they come free:
    /// with several of each, a team of one and a team of two (run repeatedly, so that the
    /// claims fall differently) give the same loss and gradients to the last bit.
    @Test func stepDoesNotDependOnTheTeam() throws {
        let fixture = try Fixture(loss: .multinomial, modalities: [("image", 3), ("audio", 2)], blocks: 2, items: 1100, hidden: 1000)
        let alone = try ParameterVector(zeros: fixture.weights.layout)
        let loss = try fixture.loss(fixture.weights, gradients: alone, threads: 1)
        for _ in 0 ..< 4 {
            let team = try ParameterVector(zeros: fixture.weights.layout)
            #expect(try fixture.loss(fixture.weights, gradients: team, threads: 2) == loss)
            #expect(Array(team.values) == Array(alone.values))
        }
    }

    @Test(arguments: [Hyperparameters.Loss.squaredError, .multinomial], [[("image", 3), ("audio", 2)], [], [("text", 2)]])
    func backwardMatchesFiniteDifferences(loss: Hyperparameters.Loss, modalities: [(String, Int)]) throws {
        for blocks in [1, 3] where modalities.count == 2 || blocks == 3 {
            // Hidden dropout (a fixed mask) on one of the configurations.
            let hiddenDropout = loss == .multinomial && modalities.count == 2 && blocks == 3
            let fixture = try Fixture(loss: loss, modalities: modalities, blocks: blocks, hiddenDropout: hiddenDropout)
            let analytic = try ParameterVector(zeros: fixture.weights.layout)
            _ = try fixture.loss(fixture.weights, gradients: analytic)
            var worst = 0.0
            var checked = 0
            let eps: Float = 3e-3
            for (slot, _) in fixture.weights.layout.tensors(fixture.parameters) {
                for i in 0 ..< slot.count {
                    let at = slot.offset + i
                    let original = fixture.weights.values[at]
                    fixture.weights.values[at] = original + eps
                    let plus = try fixture.loss(fixture.weights)
                    fixture.weights.values[at] = original - eps
                    let minus = try fixture.loss(fixture.weights)
                    fixture.weights.values[at] = original
                    let numeric = (plus - minus) / Double(2 * eps)
                    let exact = Double(analytic.values[at])
                    worst = max(worst, abs(numeric - exact) - (2e-3 + 3e-2 * abs(exact)))
                    checked += 1
                }
            }
            #expect(checked > 150)
            #expect(worst <= 0, "\(blocks) block(s): worst tolerance violation \(worst)")
        }
    }

    /// With x_t the multi-hot history, z = z_in[u] and the history's own signals, the
    /// training forward pass is the serving forward pass: the two implementations agree.
    @Test func trainingForwardIsServingForward() throws {
        let fixture = try Fixture(loss: .squaredError, modalities: [("image", 3), ("audio", 2)])
        let (p, ws) = (fixture.parameters, fixture.workspace)
        let model = try Model(p)
        let signals = ConditionSignals(svdItemFactors: p.svdItemFactors, singularValues: p.svdSingularValues,
                                       itemDegrees: p.itemDegrees, features: p.modalities.map(\.features))
        let histories: [[Int32]] = [[0, 3], [1, 2, 6], []]
        for (r, items) in histories.enumerated() {
            let row = ws.x.pointer + r * ws.items
            row.update(repeating: 0, count: ws.items)
            for item in items { row[Int(item)] = 1 }
            ws.setZ(row: r, p.zIn.row(ws.users[r]))
            signals.write(items, collaborative: ws.collaborative.pointer + r * ws.signalSize,
                          preferences: ws.dims.indices.map { ws.preferences[$0].pointer + r * ws.dims[$0] })
        }
        let step = TrainingStep(weights: fixture.weights, gradients: try ParameterVector(zeros: fixture.weights.layout),
                                workspace: ws, slope: Float(p.hyperparameters.leakyReluSlope), loss: .squaredError)
        ThreadPool.shared.run(threads: 1) { step.forward($0) }
        for (r, items) in histories.enumerated() {
            let served = try model.scores(model.query(history: items.map { p.itemIDs[Int($0)] }, user: p.userIDs[ws.users[r]]))
            for i in 0 ..< ws.items { #expect(abs(ws.out.pointer[r * ws.items + i] - served[i]) < 1e-5) }
        }
    }
}
