#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore
import LD4MRecServing

/// One epoch's outcome, as the trainer reports it.
public struct EpochReport: Sendable {
    /// Whether the epoch trained the teacher of distillation (`teacher_cnets` C-Nets).
    public let isTeacher: Bool
    /// Which C-Net (1 ... `cnets`, or `teacher_cnets` for the teacher) the epoch trained.
    public let cnet: Int
    public let epoch: Int
    /// Mean training loss over the epoch's minibatches (importance-weighted).
    public let loss: Double
    public let validation: RankingMetrics
    public let seconds: Double
    public let isBest: Bool
    public let bestEpoch: Int
}

extension EpochReport {
    var asTeacher: EpochReport {
        EpochReport(isTeacher: true, cnet: cnet, epoch: epoch, loss: loss, validation: validation, seconds: seconds,
                    isBest: isBest, bestEpoch: bestEpoch)
    }
}

/// The outcome of a training run: the best epoch's model.
public struct TrainingResult: Sendable {
    public let parameters: ModelParameters
    /// The best epoch of each C-Net trained (one unless `cnets` asks for more).
    public let bestEpochs: [Int]
    public var bestEpoch: Int { bestEpochs[0] }
    /// Validation metrics of the C-Net alone: the best epoch's (what early stopping saw),
    /// or with several C-Nets, their average's.
    public let bestValidation: RankingMetrics
    /// Validation metrics of the saved model (the C-Net mixed with the item-item prior,
    /// when there is one).
    public let finalValidation: RankingMetrics
    public let epochs: [EpochReport]
    /// Seconds spent on the frozen signals (SVD, degrees, features, item-item prior).
    public let setupSeconds: Double
    /// What the trainer decided on its own (e.g. skipping the prior), for the log.
    public let notes: [String]
}

/// Trains LD4MRec on a dataset as docs/MODEL.md's Algorithm 1 describes: minibatches of
/// users, the forward diffusion process, a soft reconstruction target, importance sampling
/// over steps, Adam, early stopping on validation Recall@20 keeping the best weights.
/// Deterministic for a given seed. Memory grows with the batch, never with users x items.
public final class Trainer {
    public let dataset: Dataset
    public let hyperparameters: Hyperparameters
    var rng: SeededGenerator
    let frozen: ModelParameters       // signals and ids; weights replaced as training goes
    let signals: ConditionSignals
    /// The C-Net's weights and z_in, as one vector (ParameterVector).
    let weights: ParameterVector
    let setupSeconds: Double
    /// The item-item priors the hyperparameters ask for: none, one, or (`auto` within the
    /// dense limit) EASE and kNN, of which mixing keeps the better on validation.
    let priors: [BuiltPrior]
    /// The teacher given for distillation (else one is trained first).
    let givenTeacher: Teacher?
    /// The teacher's ranking, while the distilled C-Nets train.
    var teacher: TeacherRanking?
    var notes: [String] = []

    /// Refuses an architecture this machine cannot hold while training (the weights,
    /// their gradients, Adam's two moments and the best epoch's copy: five vectors of the
    /// C-Net's parameters, and with several C-Nets a copy of each trained one and their
    /// average, `cnets^2` times the hidden layers; and while a teacher trains first, its
    /// trainer's too), with an error before any of it is allocated: hidden sizes up to
    /// 2^20 pass validation, and a failed allocation would end the process.
    static func requireMemory(_ dataset: Dataset, _ h: Hyperparameters, trainingATeacher: Bool) throws {
        let (n, d, df, k2, mlp) = (Double(dataset.itemCount), Double(h.hiddenSize), Double(h.stepEmbeddingSize),
                                   Double(2 * h.svdRank), Double(h.filmHiddenSize))
        let film = dataset.modalities.reduce(0.0) { $0 + 2 * (Double($1.features.cols) * mlp + mlp * d) }
        let parameters = 2 * n * d + Double(h.blocks) * (d * (d + 2 * df + k2) + film) + Double(dataset.userCount) * df
        let hiddenLayers = Double(h.blocks) * d * (d + 2 * df)
        func bytes(cnets count: Int) -> Double {
            let cnets = Double(count)
            let averaged = count > 1 ? cnets * (parameters - hiddenLayers) + cnets * cnets * hiddenLayers : 0
            return 4 * ((4 + cnets) * parameters + averaged)
        }
        let needed = bytes(cnets: h.cnets) + (trainingATeacher ? bytes(cnets: h.teacherCNets) : 0)
        let available = Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
        guard available <= 0 || needed <= available else {
            let lower = ["hidden_size"] + (h.cnets > 1 ? ["n_cnets"] : []) + (trainingATeacher ? ["teacher_cnets (or train without a teacher: distillation_weight 0)"] : [])
            throw LD4MRecError(.outOfMemory, "training this architecture needs about \(Int(needed / 1e9)) GB (\(Int(parameters)) parameters per C-Net), this machine has \(Int(available / 1e9)) GB: lower \(lower.joined(separator: " or "))")
        }
    }

    /// `teacher`: a model trained on the same dataset (its user and item ids and item
    /// degrees are checked), whose ranking the C-Nets learn with a distillation_weight
    /// above 0; without it, one of teacher_cnets C-Nets is trained first.
    public convenience init(dataset: Dataset, hyperparameters: Hyperparameters, teacher: ModelParameters? = nil) throws {
        try self.init(dataset: dataset, hyperparameters: hyperparameters, distillingFrom: teacher.map { .model($0) })
    }

    /// `teacher`: a model trained on the same dataset, as above, or the scores of any
    /// recommender for every user and item of the dataset (`Teacher.scores`), whose ranking
    /// the C-Nets learn with a distillation_weight above 0; nil: as without a teacher file.
    public init(dataset: Dataset, hyperparameters: Hyperparameters, distillingFrom teacher: Teacher?) throws {
        var h = hyperparameters
        if let teacher {
            guard h.distillationWeight > 0 else {
                throw LD4MRecError.invalidArgument("a teacher is used with a distillation_weight above 0 (it is \(h.distillationWeight))")
            }
            switch teacher {
            case .model(let parameters): h.teacherCNets = parameters.hyperparameters.cnets
            case .scores(let scores): try TeacherRanking.requireShape(of: scores, for: dataset)
            }
        }
        try h.validateArchitecture()
        try h.validateTraining()
        guard dataset.train.items.count > 0 else { throw LD4MRecError.invalidArgument("the dataset has no training interactions") }
        // Early stopping and the mixture weight are chosen on validation: without it the
        // trainer would keep its first epoch and could weigh the C-Net out of the scores.
        guard dataset.validation.items.count > 0 else {
            throw LD4MRecError.invalidArgument("the dataset has no validation interactions (x_label 1): training chooses its epoch and score mixture on them")
        }
        try Self.requireMemory(dataset, h, trainingATeacher: h.distillationWeight > 0 && teacher == nil)
        givenTeacher = teacher
        self.dataset = dataset
        self.hyperparameters = h
        rng = SeededGenerator(seed: h.seed)
        let start = monotonicSeconds()
        frozen = try Self.initialParameters(dataset, h, &rng)
        if case .model(let teacher) = teacher,
           (teacher.itemIDs, teacher.userIDs, teacher.itemDegrees) != (frozen.itemIDs, frozen.userIDs, frozen.itemDegrees) {
            throw LD4MRecError.invalidArgument("the teacher was not trained on this dataset (its users, items or training interactions differ)")
        }
        priors = try BuiltPrior.all(for: dataset, h, notes: &notes)
        setupSeconds = monotonicSeconds() - start
        signals = ConditionSignals(svdItemFactors: frozen.svdItemFactors, singularValues: frozen.svdSingularValues,
                                   itemDegrees: frozen.itemDegrees, features: frozen.modalities.map(\.features))
        weights = try ParameterVector(frozen)
    }

    /// The trainer of `student`'s teacher: the student's frozen signals, priors and
    /// generator state, which a trainer of its own would build again from the same seed
    /// and dataset (the SVD, EASE's lambda search and the kNN graph, a minute on TikTok).
    private init(teacherOf student: Trainer, hyperparameters h: Hyperparameters) throws {
        givenTeacher = nil
        dataset = student.dataset
        hyperparameters = h
        rng = student.rng
        var frozen = student.frozen
        frozen.hyperparameters = h
        self.frozen = frozen
        priors = student.priors
        notes = student.notes
        setupSeconds = student.setupSeconds
        signals = student.signals
        weights = try ParameterVector(frozen)
    }

    /// The model with the current weights (z_in_default = the mean of z_in).
    public var currentParameters: ModelParameters { weights.written(into: frozen) }

    /// Trains the C-Net (each of `cnets`, one after the other) and mixes in the item-item
    /// prior, calling `progress` after each epoch. Returns the model to save.
    ///
    /// With a distillation_weight, the C-Nets learn a teacher's ranking. The teacher is the
    /// given one, or trained first (its epochs are reported too); then its first `cnets`
    /// C-Nets are those a training without a teacher draws (the same seeds), and of that
    /// model and the distilled one, the better on validation Recall@20 is kept.
    public func train(progress: (EpochReport) -> Void = { _ in }) throws -> TrainingResult {
        let h = hyperparameters
        var reports: [EpochReport] = []
        var withoutTeacher: TrainingResult?
        if h.distillationWeight > 0 {
            let source: Teacher
            if let givenTeacher {
                source = givenTeacher
            } else {
                let trained = try trainTeacher(reports: &reports, progress: progress)
                (source, withoutTeacher) = (.model(trained.teacher), trained.withoutTeacher)
            }
            teacher = try TeacherRanking(source, dataset: dataset, temperature: h.distillationTemperature)
        }
        defer { teacher = nil }
        let distilled = try finish(try trainCNets(reports: &reports, progress: progress), reports: reports)
        guard let withoutTeacher else { return distilled }
        let (a, b) = (distilled.finalValidation.recall20, withoutTeacher.finalValidation.recall20)
        let keepDistilled = a > b
        func rounded(_ x: Double) -> Double { (x * 10000).rounded() / 10000 }
        notes.append("distillation: validation recall@20 \(rounded(a)) with the teacher, \(rounded(b)) without: "
            + (keepDistilled ? "the distilled model is kept" : "the model without a teacher is kept"))
        let kept = keepDistilled ? distilled : withoutTeacher
        return TrainingResult(parameters: kept.parameters, bestEpochs: kept.bestEpochs, bestValidation: kept.bestValidation,
                              finalValidation: kept.finalValidation, epochs: reports, setupSeconds: setupSeconds, notes: notes)
    }

    typealias TrainedCNet = (epoch: Int, metrics: RankingMetrics, parameters: ModelParameters)

    /// Trains each of `cnets` C-Nets from its own seed; returns their best epochs.
    private func trainCNets(reports: inout [EpochReport], progress: (EpochReport) -> Void) throws -> [TrainedCNet] {
        let h = hyperparameters
        var trained: [TrainedCNet] = []
        for cnet in 1 ... h.cnets {
            if cnet > 1 {
                // The members differ in their weights, batch order and noise; they share
                // the frozen signals. Their seeds are spaced by SplitMix's increment, so
                // that the runs of seeds 1, 2, 3 share no C-Net.
                rng = SeededGenerator(seed: h.seed &+ UInt64(cnet - 1) &* 0x9E37_79B9_7F4A_7C15)
                var fresh = frozen
                fresh.initialiseWeights(&rng)
                weights.update(from: try ParameterVector(fresh))
            }
            let best = try trainCNet(cnet, reports: &reports, progress: progress)
            trained.append((best.epoch, best.metrics, best.weights.written(into: frozen)))
        }
        return trained
    }

    /// The trained C-Nets as the model to save: averaged when several, mixed with the prior.
    private func finish(_ trained: [TrainedCNet], reports: [EpochReport]) throws -> TrainingResult {
        var (cnet, cnetValidation) = (trained[0].parameters, trained[0].metrics)
        if trained.count > 1 {
            // The average of the members' standardised scores (their spreads over the
            // validation users): no member dominates by its scale.
            let spreads = try trained.map { try validationSpread(of: try Model($0.parameters)) }
            cnet = try .averaging(trained.map(\.parameters),
                                  weights: spreads.map { Float(1 / (Double(trained.count) * max($0, 1e-12))) })
            cnetValidation = try Evaluation.evaluate(try Model(cnet), on: dataset, split: .valid)
        }
        let (final, finalValidation) = try withItemItemPrior(cnet, cnetValidation: cnetValidation)
        return TrainingResult(parameters: final, bestEpochs: trained.map(\.epoch), bestValidation: cnetValidation,
                              finalValidation: finalValidation, epochs: reports, setupSeconds: setupSeconds, notes: notes)
    }

    /// The teacher of distillation, the model of these hyperparameters with teacher_cnets
    /// C-Nets and no teacher of its own (the same seed), item-item prior included; and,
    /// when it has at least `cnets` C-Nets, the model a training without a teacher makes:
    /// its first `cnets` C-Nets, mixed with the prior on their own.
    private func trainTeacher(reports: inout [EpochReport], progress: (EpochReport) -> Void) throws
        -> (teacher: ModelParameters, withoutTeacher: TrainingResult?) {
        var h = hyperparameters
        (h.cnets, h.distillationWeight) = (h.teacherCNets, 0)
        let trainer = try Trainer(teacherOf: self, hyperparameters: h)
        var teacherReports: [EpochReport] = []
        let members = try trainer.trainCNets(reports: &teacherReports) { progress($0.asTeacher) }
        reports += teacherReports.map(\.asTeacher)
        let teacher = try trainer.finish(members, reports: [])
        notes += teacher.notes.map { "teacher: " + $0 }
        guard hyperparameters.cnets <= members.count else { return (teacher.parameters, nil) }
        var record = hyperparameters
        record.distillationWeight = 0
        let own = members.prefix(hyperparameters.cnets).map { member in
            var parameters = member.parameters
            parameters.hyperparameters = record
            return (member.epoch, member.metrics, parameters)
        }
        let noted = notes.count
        let withoutTeacher = try finish(own, reports: [])
        for i in noted ..< notes.count { notes[i] = "without a teacher: " + notes[i] }
        return (teacher.parameters, withoutTeacher)
    }

    /// Runs epochs of C-Net number `cnet` from the current weights until `maxEpochs` or
    /// `patience` epochs without a better validation Recall@20. Returns the best epoch.
    private func trainCNet(_ cnet: Int, reports: inout [EpochReport], progress: (EpochReport) -> Void) throws
        -> (epoch: Int, metrics: RankingMetrics, weights: ParameterVector) {
        let h = hyperparameters
        var optimizer = try AdamOptimizer(for: weights.layout, learningRate: h.learningRate, weightDecay: h.weightDecay)
        var sampler = StepSampler(steps: h.steps, importance: h.stepSampler == .importance)
        let gradients = try ParameterVector(zeros: weights.layout)
        let workspace = try TrainingWorkspace(weights.layout, capacity: min(h.batchSize, dataset.userCount),
                                              hiddenDropout: h.hiddenDropout > 0)
        let trainUsers = (0 ..< dataset.userCount).filter { !dataset.train.row($0).isEmpty }
        let threads = Threads.defaultCount

        // Epoch 0 stands for the initial weights; any trained epoch replaces it.
        var best = (epoch: 0, metrics: RankingMetrics(recall20: -1), weights: try weights.copy())
        for epoch in 1 ... max(1, h.maxEpochs) {
            let start = monotonicSeconds()
            var order = trainUsers
            order.shuffle(using: &rng)
            var lossSum = 0.0
            var batches = 0
            for batchStart in stride(from: 0, to: order.count, by: h.batchSize) {
                let users = Array(order[batchStart ..< min(batchStart + h.batchSize, order.count)])
                let (steps, seed) = try prepareBatch(users, sampler: sampler, into: workspace)
                let step = TrainingStep(weights: weights, gradients: gradients, workspace: workspace,
                                        slope: Float(h.leakyReluSlope), loss: h.loss)
                optimizer.step += 1
                let adam = optimizer
                var loss = 0.0
                ThreadPool.shared.run(threads: threads) { team in
                    fillRows(steps: steps, seed: seed, weights: weights, into: workspace, team: team)
                    team.barrier()
                    let total = step.run(team)
                    if team.rank == 0 { loss = total }
                    team.barrier()
                    adam.update(weights, gradients: gradients, team: team)
                }
                guard loss.isFinite else {
                    throw LD4MRecError.invalidArgument("training diverged at epoch \(epoch) (loss \(loss)); lower learning_rate")
                }
                // z_in's gradient is the batch users' rows only: clear them for the next step.
                let zIn = gradients[gradients.layout.zIn]
                for user in users { (zIn + user * workspace.stepSize).update(repeating: 0, count: workspace.stepSize) }
                sampler.record(steps: steps, losses: (0 ..< users.count).map { workspace.perUser.pointer[$0] })
                lossSum += loss
                batches += 1
            }
            let validation = try Evaluation.evaluate(try Model(currentParameters), on: dataset, split: .valid)
            let isBest = validation.recall20 > best.metrics.recall20
            if isBest {
                (best.epoch, best.metrics) = (epoch, validation)
                best.weights.update(from: weights)  // into the same buffer: no fresh pages each epoch
            }
            let report = EpochReport(isTeacher: false, cnet: cnet, epoch: epoch, loss: lossSum / Double(max(1, batches)), validation: validation,
                                     seconds: monotonicSeconds() - start, isBest: isBest, bestEpoch: best.epoch)
            reports.append(report)
            progress(report)
            if epoch - best.epoch >= h.patience { break }
        }
        return best
    }
}
