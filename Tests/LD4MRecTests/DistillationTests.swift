import Foundation
import Testing
@testable import LD4MRecCore
@testable import LD4MRecServing
@testable import LD4MRecStorage
@testable import LD4MRecTraining

/// Distillation (docs/MODEL.md): the teacher's ranking q, and the targets and models made
/// with it.
@Suite(.serialized) struct DistillationTests {
    /// q by its definition, in double: the softmax over the items outside the history of
    /// the scores standardised over those items (population spread), divided by tau.
    static func reference(_ scores: [Float], history: Set<Int>, temperature: Double) -> [Double] {
        let outside = scores.indices.filter { !history.contains($0) }
        guard !outside.isEmpty else { return scores.map { _ in 0 } }
        let mean = outside.reduce(0.0) { $0 + Double(scores[$1]) } / Double(outside.count)
        let spread = (outside.reduce(0.0) { $0 + pow(Double(scores[$1]) - mean, 2) } / Double(outside.count)).squareRoot()
        let z = outside.map { (Double(scores[$0]) - mean) / spread / temperature }
        let total = z.reduce(0.0) { $0 + exp($1) }
        var q = [Double](repeating: 0, count: scores.count)
        for (item, value) in zip(outside, z) { q[item] = exp(value) / total }
        return q
    }

    @Test func aRowOfScoresBecomesTheSoftmaxOfItsStandardisedScores() {
        func q(_ scores: [Float], _ history: [Int32], temperature: Double = 1) -> [Float]? {
            var row = scores
            let finite = TeacherRanking.distribution(&row, items: row.count, history: history, temperature: temperature)
            return finite ? row : nil
        }
        // [1, 2, 3, 4] with item 0 in the history: 2, 3, 4 have mean 3 and spread
        // sqrt(2/3), so z = (-sqrt(3/2), 0, sqrt(3/2)).
        let a = 1.5.squareRoot()
        let known = [0, exp(-a), 1, exp(a)].map { $0 / (exp(-a) + 1 + exp(a)) }
        let row = q([1, 2, 3, 4], [0])!
        for (x, e) in zip(row, known) { #expect(abs(Double(x) - e) < 1e-6) }
        // The temperature divides z; a repeated history item is one item.
        let scores: [Float] = [0.3, -1.2, 2.5, 0.7, 0.7, -0.4, 5, 1]
        for (history, tau) in [([Int32](), 1.0), ([2, 6], 0.5), ([6, 2, 6], 2.0)] {
            let expected = Self.reference(scores, history: Set(history.map(Int.init)), temperature: tau)
            let got = q(scores, history, temperature: tau)!
            for (x, e) in zip(got, expected) { #expect(abs(Double(x) - e) < 1e-6, "history \(history), tau \(tau)") }
        }
        // Equal scores: uniform outside the history. A history of every item: all zeros.
        #expect(q([2, 2, 2, 2], [1]) == [Float(1) / 3, 0, Float(1) / 3, Float(1) / 3])
        #expect(q([1, 2, 3], [0, 1, 2]) == [0, 0, 0])
        // A score that is not finite outside the history: refused.
        #expect(q([1, .nan, 3], [0]) == nil)
        #expect(q([1, .infinity, 3], [0]) == nil)
        #expect(q([.nan, 2, 3], [0]) != nil)  // the history's own scores do not matter
    }

    /// A small teacher of two C-Nets on TrainerTests' data.
    static func teacher(_ dataset: Dataset, _ h: Hyperparameters) throws -> ModelParameters {
        var t = h
        (t.cnets, t.distillationWeight) = (2, 0)
        return try Trainer(dataset: dataset, hyperparameters: t).train().parameters
    }

    @Test func theTeachersRowsAreItsRankingOfEveryUser() throws {
        let (dataset, h) = TrainerTests.smallRun(epochs: 2)
        let parameters = try Self.teacher(dataset, h)
        let model = try Model(parameters)
        let users = [3, 0, 499, 17, 3]
        // Kept for the whole training, or computed for each batch: the same rows.
        for cacheBytes in [TeacherRanking.defaultCacheBytes, 0] {
            let ranking = try TeacherRanking(.model(parameters), dataset: dataset, temperature: 0.7, cacheBytes: cacheBytes)
            let rows = try ranking.rows(of: users)
            for (index, user) in users.enumerated() {
                let history = dataset.train.row(user)
                let scores = try model.scores(model.query(history: history.map { Int64($0) }, user: Int64(user)))
                let expected = Self.reference(scores, history: Set(history.map(Int.init)), temperature: 0.7)
                let got = UnsafeBufferPointer(start: rows(index), count: dataset.itemCount)
                #expect(zip(got, expected).allSatisfy { abs(Double($0) - $1) < 1e-6 + 1e-4 * $1 }, "user \(user)")
                #expect(history.allSatisfy { got[Int($0)] == 0 })
            }
        }
    }

    /// Each row of a distilled batch is the soft target plus alpha |history| q.
    @Test func theTargetAddsTheTeachersRankingWeighedByTheHistory() throws {
        var (dataset, h) = TrainerTests.smallRun(epochs: 2)
        let parameters = try Self.teacher(dataset, h)
        h.distillationWeight = 0.3
        let plain = try Trainer(dataset: dataset, hyperparameters: { var p = h; p.distillationWeight = 0; return p }())
        let distilled = try Trainer(dataset: dataset, hyperparameters: h, teacher: parameters)
        distilled.teacher = try TeacherRanking(.model(parameters), dataset: dataset, temperature: h.distillationTemperature)
        let q = try TeacherRanking(.model(parameters), dataset: dataset, temperature: 1, cacheBytes: 0)
        let users = [5, 42, 7, 300]
        let sampler = StepSampler(steps: h.steps, importance: true)
        let workspaces = try [plain, distilled].map { _ in
            try TrainingWorkspace(plain.weights.layout, capacity: users.count, hiddenDropout: false)
        }
        let drawn = try zip([plain, distilled], workspaces).map { try $0.prepareBatch(users, sampler: sampler, into: $1) }
        #expect(drawn[0].seed == drawn[1].seed && drawn[0].steps == drawn[1].steps, "the teacher draws no random numbers")
        let rows = try q.rows(of: users)
        let n = dataset.itemCount
        for (r, user) in users.enumerated() {
            var expected = [Float](repeating: 0, count: n)
            let weight = Float(0.3 * Double(dataset.train.row(user).count))
            for i in 0 ..< n { expected[i] = weight * rows(r)[i] }
            let soft = workspaces[0].targetOffsets[r] ..< workspaces[0].targetOffsets[r + 1]
            for e in soft { expected[Int(workspaces[0].targetItems[e])] += workspaces[0].targetValues[e] }
            let entries = workspaces[1].targetOffsets[r] ..< workspaces[1].targetOffsets[r + 1]
            #expect(workspaces[1].targetItems[entries] == ArraySlice(0 ..< Int32(n)))
            #expect(zip(workspaces[1].targetValues[entries], expected).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, $1) })
        }
    }

    /// Distilling from a file or from the teacher trained first (same seed, teacher_cnets
    /// C-Nets) gives the same model; the teacher's first C-Net is the one training
    /// without a teacher makes, and of the two models the better on validation is kept.
    /// The epochs of each are reported, and the file records how the model was made.
    @Test(arguments: [1, 2])
    func aTrainedTeacherAndTheSameTeacherFromAFileTeachTheSame(cnets: Int) throws {
        var (dataset, h) = TrainerTests.smallRun(epochs: 2)
        (h.distillationWeight, h.teacherCNets, h.cnets) = (1, 2, cnets)
        let trainedFirst = try Trainer(dataset: dataset, hyperparameters: h).train()
        #expect(trainedFirst.epochs.map(\.isTeacher) == [true, true, true, true] + Array(repeating: false, count: 2 * cnets))
        #expect(trainedFirst.epochs.map(\.cnet) == [1, 1, 2, 2] + (1 ... cnets).flatMap { [$0, $0] })

        let dir = temporaryDirectory()
        try ModelFile.write(try Self.teacher(dataset, h), to: dir + "/teacher.h5")
        var fromFile = h
        fromFile.teacherCNets = 7  // the file's n_cnets is recorded instead
        let taught = try Trainer(dataset: dataset, hyperparameters: fromFile,
                                 teacher: try ModelFile.read(from: dir + "/teacher.h5")).train()
        #expect(taught.epochs.allSatisfy { !$0.isTeacher })
        let made = taught.parameters.hyperparameters
        #expect((made.distillationWeight, made.distillationTemperature, made.teacherCNets, made.cnets) == (1, 1, 2, cnets))

        var alone = h
        alone.distillationWeight = 0
        let plain = try Trainer(dataset: dataset, hyperparameters: alone).train()
        #expect(plain.parameters.output.weight != taught.parameters.output.weight ? true : false, "the teacher changed nothing")
        let keepsDistilled = taught.finalValidation.recall20 > plain.finalValidation.recall20
        let kept = keepsDistilled ? taught : plain
        #expect(trainedFirst.parameters == kept.parameters ? true : false, "kept \(keepsDistilled ? "the distilled" : "the plain") model, differently")
        #expect(trainedFirst.finalValidation == kept.finalValidation && trainedFirst.bestEpochs == kept.bestEpochs)
        func rounded(_ x: Double) -> Double { (x * 10000).rounded() / 10000 }
        let note = "distillation: validation recall@20 \(rounded(taught.finalValidation.recall20)) with the teacher, "
            + "\(rounded(plain.finalValidation.recall20)) without: the \(keepsDistilled ? "distilled model" : "model without a teacher") is kept"
        #expect(trainedFirst.notes.contains(note), "\(trainedFirst.notes)")
    }

    /// A teacher's scores of every user, as its serving pass gives them in the passes
    /// TeacherRanking makes (so bit for bit the rows it computes).
    static func scores(of parameters: ModelParameters, _ dataset: Dataset) throws -> Matrix {
        let (model, n, users) = (try Model(parameters), dataset.itemCount, dataset.userCount)
        var values = [Float](repeating: .nan, count: users * n)
        let chunk = Model.rowsPerPass(items: n, atMost: 256)
        try values.withUnsafeMutableBufferPointer { all in
            for start in stride(from: 0, to: users, by: chunk) {
                let rows = Array(start ..< min(start + chunk, users))
                let queries = rows.map { model.query(history: dataset.train.row($0).map { Int64($0) }, user: Int64($0)) }
                try model.scores(queries, into: UnsafeMutableBufferPointer(rebasing: all[start * n ..< (start + rows.count) * n]))
            }
        }
        return try Matrix(rows: users, cols: n, values: values)
    }

    /// Given scores teach as the model that scored them: the same rows, the same model.
    @Test func aTeachersScoresTeachAsTheTeacher() throws {
        var (dataset, h) = TrainerTests.smallRun(epochs: 2)
        let parameters = try Self.teacher(dataset, h)
        let scores = try Self.scores(of: parameters, dataset)
        #expect(!scores.values.contains { $0.isNaN })
        let users = [3, 0, 499, 17]
        let fromModel = try TeacherRanking(.model(parameters), dataset: dataset, temperature: 0.7).rows(of: users)
        let fromScores = try TeacherRanking(.scores(scores), dataset: dataset, temperature: 0.7, cacheBytes: 0).rows(of: users)
        for r in users.indices {
            #expect(Array(UnsafeBufferPointer(start: fromScores(r), count: dataset.itemCount))
                == Array(UnsafeBufferPointer(start: fromModel(r), count: dataset.itemCount)), "user \(users[r])")
        }

        h.distillationWeight = 1
        let taught = try Trainer(dataset: dataset, hyperparameters: h, teacher: parameters).train()
        let given = try Trainer(dataset: dataset, hyperparameters: h, distillingFrom: .scores(scores)).train()
        #expect(given.epochs.allSatisfy { !$0.isTeacher })
        #expect(given.parameters.output.weight == taught.parameters.output.weight && given.finalValidation == taught.finalValidation)
        var alone = h
        alone.distillationWeight = 0
        let plain = try Trainer(dataset: dataset, hyperparameters: alone).train()
        #expect(plain.parameters.output.weight != given.parameters.output.weight, "the scores changed nothing")
    }

    /// Scores of another shape, or not finite outside a history, are refused, naming why.
    @Test func scoresOfAnotherShapeOrNotFiniteAreRefused() throws {
        var (dataset, h) = TrainerTests.smallRun(epochs: 1)
        let (users, n) = (dataset.userCount, dataset.itemCount)
        expectError(.invalidArgument, containing: "a teacher is used with a distillation_weight above 0") {
            _ = try Trainer(dataset: dataset, hyperparameters: h, distillingFrom: .scores(try Matrix(rows: users, cols: n, values: .init(repeating: 0, count: users * n))))
        }
        h.distillationWeight = 1
        for (rows, cols) in [(users - 1, n), (users, n + 1), (n, users)] {
            let wrong = try Matrix(rows: rows, cols: cols, values: .init(repeating: 0, count: rows * cols))
            expectError(.invalidArgument, containing: "the teacher's scores are \(rows) x \(cols); this dataset needs one row per user and one column per item: \(users) x \(n)") {
                _ = try Trainer(dataset: dataset, hyperparameters: h, distillingFrom: .scores(wrong))
            }
        }
        var scores = try Matrix(rows: users, cols: n, values: (0 ..< users * n).map { Float($0 % 7) })
        let outside = (0 ..< n).first { !dataset.train.row(5).contains(Int32($0)) }!
        scores.values[5 * n + outside] = .infinity
        let trainer = try Trainer(dataset: dataset, hyperparameters: h, distillingFrom: .scores(scores))
        expectError(.invalidArgument, containing: "the teacher's scores of user 5 are not finite: it cannot teach") {
            _ = try trainer.train()
        }
    }

    @Test func aTeacherOfAnotherDatasetOrWithoutWeightIsRefused() throws {
        let (dataset, plain) = TrainerTests.smallRun(epochs: 1)
        var h = plain
        let parameters = try Self.teacher(dataset, h)
        expectError(.invalidArgument, containing: "a teacher is used with a distillation_weight above 0") {
            _ = try Trainer(dataset: dataset, hyperparameters: h, teacher: parameters)
        }
        h.distillationWeight = 1
        var builtin = BuiltinDataset()
        (builtin.users, builtin.items, builtin.seed) = (500, 250, 99)  // same sizes, other interactions
        expectError(.invalidArgument, containing: "the teacher was not trained on this dataset") {
            _ = try Trainer(dataset: builtin.generate(), hyperparameters: h, teacher: parameters)
        }
    }
}
