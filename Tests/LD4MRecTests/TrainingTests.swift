import Testing
@testable import LD4MRecCore
@testable import LD4MRecServing
@testable import LD4MRecStorage
@testable import LD4MRecTraining
#if canImport(Glibc)
import Glibc
#endif

@Suite struct RandomizedSVDTests {
    /// Disjoint all-ones blocks of a_j users x b_j items: singular values sqrt(a_j b_j),
    /// right singular vectors 1/sqrt(b_j) on block j's items.
    @Test func recoversAKnownSpectrum() throws {
        let blocks = [(40, 30), (30, 20), (25, 16), (12, 10), (9, 6), (5, 4)]
        var offsets = [0]
        var items: [Int32] = []
        var firstItem = 0
        var itemBlock: [Int] = []
        for (j, (users, width)) in blocks.enumerated() {
            for _ in 0 ..< users {
                items += (firstItem ..< firstItem + width).map { Int32($0) }
                offsets.append(items.count)
            }
            itemBlock += [Int](repeating: j, count: width)
            firstItem += width
        }
        let matrix = CSRHistories(offsets: offsets, items: items)
        let (v, s) = try RandomizedSVD.decompose(matrix, columns: firstItem, rank: 4, oversamples: 4, powerIterations: 3)
        let expected = blocks.prefix(4).map { Float(Double($0.0 * $0.1).squareRoot()) }
        for (got, want) in zip(s, expected) { #expect(abs(got - want) < 1e-3 * want, "\(s) vs \(expected)") }
        for j in 0 ..< 4 {
            for i in 0 ..< firstItem {
                let want: Float = itemBlock[i] == j ? 1 / Float(blocks[j].1).squareRoot() : 0
                #expect(abs(abs(v[i, j]) - want) < 1e-3)
            }
        }
        expectError(.invalidArgument, containing: "SVD rank") {
            _ = try RandomizedSVD.decompose(matrix, columns: firstItem, rank: firstItem + 1)
        }
    }
}

@Suite struct MetricsTests {
    @Test func handComputedCases() {
        // User 1: held out {1, 2}; ranked [1, 9, 2, ...]: hits at ranks 0 and 2.
        // User 2: held out {5}; hit at rank 12 (inside 20, outside 10).
        // User 3: held out {7}; no hit. User 4: no held-out items: not counted.
        var ranking2 = [Int64](repeating: 100, count: 20)
        ranking2[12] = 5
        let m = RankingMetrics.compute([
            ([1, 9, 2] + [Int64](repeating: 100, count: 17), [1, 2]),
            (ranking2, [5]),
            ([Int64](repeating: 100, count: 20), [7]),
            ([3], []),
        ])
        let dcg1 = 1 + 1 / log2(4.0)
        let idcg1 = 1 + 1 / log2(3.0)
        #expect(m.users == 3)
        #expect(abs(m.recall10 - (1 + 0 + 0) / 3) < 1e-12)
        #expect(abs(m.recall20 - (1 + 1 + 0) / 3) < 1e-12)
        #expect(abs(m.ndcg10 - (dcg1 / idcg1) / 3) < 1e-12)
        #expect(abs(m.ndcg20 - (dcg1 / idcg1 + 1 / log2(14.0)) / 3) < 1e-12)
    }
}

@Suite struct ProtocolTests {
    /// Popularity with and without DiffRec's masking of validation items, by hand: 30 items
    /// with degrees 30, 29, ...; user 0 holds out items 0 and 1 (the two most popular) for
    /// validation and item 21 for test. Without the mask item 21 ranks 22nd (outside the
    /// top 20, as item 25 is its only training item); with it, 20th.
    @Test func maskingValidationItems() {
        var rows = [[Int32]](repeating: [], count: 31)
        for user in 1 ... 30 { rows[user] = (0 ..< Int32(31 - user)).map { $0 } }  // item i has degree 30 - i
        rows[0] = [25]
        let empty = [[Int32]](repeating: [], count: 31)
        var validation = empty, test = empty
        validation[0] = [0, 1]
        test[0] = [21]
        let dataset = Dataset(name: "toy", userCount: 31, itemCount: 30, train: CSRHistories(rows: rows),
                              validation: CSRHistories(rows: validation), test: CSRHistories(rows: test), modalities: [])
        #expect(Evaluation.popularity(on: dataset, split: .test).recall20 == 0)
        #expect(Evaluation.popularity(on: dataset, split: .test, maskValidation: true).recall20 == 1)
    }
}

@Suite struct DatasetReaderTests {
    func folder(_ inter: String, features: [String: Matrix] = [:]) throws -> String {
        let dir = temporaryDirectory() + "/toy"
        mkdir(dir, 0o755)
        writeBytes(Array(inter.utf8), to: dir + "/toy.inter")
        for (name, matrix) in features { try NPY.write(matrix, to: "\(dir)/\(name)_feat.npy") }
        return dir
    }

    @Test func readsSplitsFeaturesAndDropsDuplicates() throws {
        let dir = try folder("userID\titemID\trating\tx_label\n0\t1\t5\t0\n0\t2\t3\t1\n1\t0\t4\t2\n1\t2\t1\t0\n0\t1\t5\t0\n",
                             features: ["image": try Matrix(rows: 4, cols: 2, values: [1, 2, 3, 4, 5, 6, 7, 8])])
        let d = try Dataset.load(directory: dir)
        #expect(d.userCount == 2 && d.itemCount == 4)
        #expect(Array(d.train.row(0)) == [1] && Array(d.train.row(1)) == [2])
        #expect(Array(d.validation.row(0)) == [2] && Array(d.test.row(1)) == [0])
        #expect(d.duplicatesDropped == 1)
        #expect(d.modalities.map(\.name) == ["image"] && d.modalities[0].features[3, 1] == 8)
        #expect(try Dataset.load(directory: dir, modalityNames: []).modalities.isEmpty)
    }

    @Test func badInputNamesFileAndLine() throws {
        let cases: [(String, String)] = [
            ("user\titemID\tx_label\n0\t1\t0\n", "line 1: header has no 'userID' column"),
            ("userID\titemID\tx_label\n0\t1\t0\n0\tx\t0\n", "line 3: itemID 'x' is not a non-negative integer"),
            ("userID\titemID\tx_label\n0\t1\t0\n1\t1\t3\n", "line 3: x_label 3 is not 0, 1 or 2"),
            ("userID\titemID\tx_label\n0\t1\n", "line 2: 2 fields, expected at least 3"),
            ("userID\titemID\tx_label\n", "no interactions"),
        ]
        for (text, message) in cases {
            let dir = try folder(text)
            expectError(.invalidFile, containing: message) { _ = try Dataset.load(directory: dir) }
        }
        let few = try folder("userID\titemID\tx_label\n0\t5\t0\n", features: ["audio": Matrix(zeros: 3, 2)])
        expectError(.invalidFile, containing: "audio_feat.npy' has 3 rows, but the interactions use item ids up to 5") {
            _ = try Dataset.load(directory: few)
        }
        expectError(.io, containing: "no feature file 'text_feat.npy'") { _ = try Dataset.load(directory: few, modalityNames: ["text"]) }
        expectError(.io, containing: "cannot open folder") { _ = try Dataset.load(directory: few + "/nope") }
    }

    @Test func npyReaderIsStrict() throws {
        let dir = temporaryDirectory()
        let matrix = try Matrix(rows: 2, cols: 3, values: [1, -2, 3.5, 0, 1e-3, 7])
        expectError(.invalidArgument, containing: "a 2 x 3 matrix needs 2 * 3 values, got 5") {
            _ = try Matrix(rows: 2, cols: 3, values: [1, 2, 3, 4, 5])
        }
        try NPY.write(matrix, to: dir + "/m.npy")
        #expect(try NPY.readMatrix(dir + "/m.npy") == matrix)

        // float16, as numpy writes it: header padded to 64 bytes.
        let header = "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2), }"
        let padded = header + String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(padded.utf8.count), 0] + Array(padded.utf8)
        bytes += [0x00, 0x3C, 0x00, 0xC0]  // 1.0, -2.0
        writeBytes(bytes, to: dir + "/h.npy")
        #expect(try NPY.readMatrix(dir + "/h.npy").values == [1, -2])

        writeBytes(Array(bytes.dropLast(1)), to: dir + "/short.npy")
        expectError(.invalidFile, containing: "data bytes") { _ = try NPY.readMatrix(dir + "/short.npy") }
        writeBytes(bytes.enumerated().map { $0.offset == 1 ? 0x41 : $0.element }, to: dir + "/magic.npy")
        expectError(.invalidFile, containing: "bad magic") { _ = try NPY.readMatrix(dir + "/magic.npy") }
        let nan = bytes.prefix(bytes.count - 2) + [0x00, 0x7E]
        writeBytes(Array(nan), to: dir + "/nan.npy")
        expectError(.invalidFile, containing: "row 0, column 1 is nan, not finite") { _ = try NPY.readMatrix(dir + "/nan.npy") }
        var f8 = bytes
        f8[10 + Array(header.utf8).firstIndex(of: UInt8(ascii: "2"))!] = UInt8(ascii: "8")  // '<f2' -> '<f8'
        writeBytes(f8, to: dir + "/f8.npy")
        expectError(.invalidFile, containing: "dtype '<f8' is not supported") { _ = try NPY.readMatrix(dir + "/f8.npy") }
    }
}

@Suite(.serialized) struct TrainerTests {
    static func smallRun(seed: UInt64 = 1, epochs: Int = 15) -> (Dataset, Hyperparameters) {
        var builtin = BuiltinDataset()
        builtin.users = 500
        builtin.items = 250
        var h = Hyperparameters()
        h.hiddenSize = 48
        h.svdRank = 12
        h.filmHiddenSize = 16
        h.batchSize = 100
        h.maxEpochs = epochs
        h.patience = epochs
        h.seed = seed
        h.distillationWeight = 0  // without a teacher (DistillationTests train with one)
        return (builtin.generate(), h)
    }

    @Test func shortTrainingBeatsUntrainedAndPopularity() throws {
        let (dataset, h) = Self.smallRun()
        let trainer = try Trainer(dataset: dataset, hyperparameters: h)
        let untrained = try Evaluation.evaluate(try Model(trainer.currentParameters), on: dataset, split: .valid)
        let result = try trainer.train()
        let popularity = Evaluation.popularity(on: dataset, split: .valid)
        #expect(result.bestValidation.recall20 > untrained.recall20 + 0.05, "\(result.bestValidation) vs untrained \(untrained)")
        #expect(result.bestValidation.recall20 > popularity.recall20 + 0.05, "\(result.bestValidation) vs popularity \(popularity)")
        #expect(result.epochs.count == h.maxEpochs)
        #expect(result.epochs[result.bestEpoch - 1].validation == result.bestValidation)
        // The saved model is the best epoch's C-Net mixed with the item-item prior: serving
        // it reproduces the validation metrics the mixture was chosen with.
        #expect(result.finalValidation.recall20 >= result.bestValidation.recall20)
        let served = try Evaluation.evaluate(try Model(result.parameters), on: dataset, split: .valid)
        #expect(abs(served.recall20 - result.finalValidation.recall20) < 2e-3)
        let cnetOnly = result.parameters.withoutItemItemPrior()
        #expect(try Evaluation.evaluate(try Model(cnetOnly), on: dataset, split: .valid) == result.bestValidation)
    }

    @Test func trainingIsDeterministicForASeed() throws {
        let (dataset, h) = Self.smallRun(epochs: 2)
        let a = try Trainer(dataset: dataset, hyperparameters: h).train()
        let b = try Trainer(dataset: dataset, hyperparameters: h).train()
        #expect(a.parameters == b.parameters)
        var other = h
        other.seed = 2
        #expect(try Trainer(dataset: dataset, hyperparameters: other).train().parameters != a.parameters)
    }

    /// `cnets` C-Nets train one after the other from their own seeds and are saved as
    /// their average: one C-Net that many times as wide, recorded as such.
    @Test func severalCNetsTrainAndAreSavedAsTheirAverage() throws {
        var (dataset, h) = Self.smallRun(epochs: 3)
        h.cnets = 2
        let result = try Trainer(dataset: dataset, hyperparameters: h).train()
        #expect(result.epochs.map(\.cnet) == [1, 1, 1, 2, 2, 2])
        #expect(result.bestEpochs.count == 2)
        // Each member's best epoch is its own best validation.
        for (c, best) in result.bestEpochs.enumerated() {
            let own = result.epochs.filter { $0.cnet == c + 1 }
            #expect(own[best - 1].validation.recall20 == own.map(\.validation.recall20).max())
        }
        let made = result.parameters.hyperparameters
        #expect((made.hiddenSize, made.stepEmbeddingSize, made.filmHiddenSize, made.cnets)
            == (2 * h.hiddenSize, 2 * h.stepEmbeddingSize, 2 * h.filmHiddenSize, 2))
        let cnets = result.parameters.withoutItemItemPrior()
        #expect(try Evaluation.evaluate(try Model(cnets), on: dataset, split: .valid) == result.bestValidation)
        let dir = temporaryDirectory()
        try ModelFile.write(result.parameters, to: dir + "/m.h5")
        #expect(try ModelFile.read(from: dir + "/m.h5") == result.parameters)
        // The second C-Net is not the first one again, nor the first C-Net of seed 2.
        var seed2 = h
        (seed2.seed, seed2.cnets) = (2, 1)
        let other = try Trainer(dataset: dataset, hyperparameters: seed2).train()
        let width = h.hiddenSize * dataset.itemCount
        let second = Array(cnets.input.weight.values[width ..< 2 * width])
        #expect(second != Array(cnets.input.weight.values[0 ..< width]))
        #expect(second != other.parameters.input.weight.values)
    }

    @Test(arguments: [Hyperparameters.Loss.multinomial, .squaredError])
    func optionsTrainAndAreRecorded(loss: Hyperparameters.Loss) throws {
        var (dataset, h) = Self.smallRun(epochs: 2)
        h.loss = loss
        h.inputDropout = 0.5
        h.conditionsFromDroppedHistory = true
        h.weightDecay = 1e-5
        h.stepSampler = .uniform
        let result = try Trainer(dataset: dataset, hyperparameters: h).train()
        #expect(result.epochs.allSatisfy { $0.loss.isFinite })
        let dir = temporaryDirectory()
        try ModelFile.write(result.parameters, to: dir + "/m.h5")
        // Chosen on validation: the mixture weight, the prior (auto resolved) and its parameter.
        let made = result.parameters.hyperparameters
        var recorded = h
        (recorded.ensembleWeight, recorded.itemItemPrior) = (made.ensembleWeight, made.itemItemPrior)
        (recorded.easeLambda, recorded.knnPopularityExponent) = (made.easeLambda, made.knnPopularityExponent)
        #expect((-12 ... 12).contains { EASE.candidate($0, around: h.easeLambda) == recorded.easeLambda })
        #expect(ItemKNN.popularityExponents.contains(recorded.knnPopularityExponent))
        #expect(made.itemItemPrior == .ease || made.itemItemPrior == .knn)
        #expect(recorded.ensembleWeight != nil)
        #expect(try ModelFile.read(from: dir + "/m.h5").hyperparameters == recorded)
    }

    @Test func easeLambdaCandidatesFollowTheOneTwoFiveSeries() {
        let series = (-4 ... 4).map { EASE.candidate($0, around: 50) }
        let expected: [Double] = [2.5, 5, 10, 25, 50, 100, 250, 500, 1000]
        #expect(zip(series, expected).allSatisfy { abs($0 - $1) < 1e-9 })
    }

    @Test func aDatasetWithoutValidationIsRefused() throws {
        let (dataset, h) = Self.smallRun(epochs: 1)
        let empty = CSRHistories(rows: [[Int32]](repeating: [], count: dataset.userCount))
        let noValidation = Dataset(name: "toy", userCount: dataset.userCount, itemCount: dataset.itemCount, train: dataset.train,
                                   validation: empty, test: dataset.test, modalities: dataset.modalities)
        expectError(.invalidArgument, containing: "no validation interactions") {
            _ = try Trainer(dataset: noValidation, hyperparameters: h)
        }
    }

    @Test func stepSamplerFollowsTheSpec() {
        var sampler = StepSampler(steps: 3, importance: true)
        var rng = SeededGenerator(seed: 3)
        #expect(sampler.probabilities == nil)
        #expect(sampler.sample(&rng).1 == 1)
        for _ in 0 ..< 10 { sampler.record(steps: [1, 1, 2, 3], losses: [1, 3, 4, 8]) }
        // Records: step 1 -> mean(1, 3) = 2, step 2 -> 4, step 3 -> 8; p ~ sqrt(mean(r^2)).
        let p = sampler.probabilities!
        let raw = [2.0, 4, 8].map { $0 / 14 * 0.999 + 0.001 / 3 }
        for (got, want) in zip(p, raw) { #expect(abs(got - want) < 1e-12) }
        let (t, weight) = sampler.sample(&rng)
        #expect(abs(weight - 1 / (3 * p[t - 1])) < 1e-12)
    }

    @Test func noiseScheduleAndStepEmbedding() throws {
        var (dataset, h) = Self.smallRun()
        h.noiseScale = 0.1
        let trainer = try Trainer(dataset: dataset, hyperparameters: h)
        #expect(abs(trainer.oneMinusAlphaBar(1) - 0.1 * 1e-4) < 1e-15)
        #expect(abs(trainer.oneMinusAlphaBar(5) - 0.1) < 1e-15)
        #expect(abs(trainer.oneMinusAlphaBar(3) - 0.1 * (1e-4 + 0.5 * (1 - 1e-4))) < 1e-15)
        let z = Trainer.stepEmbedding(3, size: 4)
        let expected = [sin(3.0), cos(3.0), sin(3 / 100.0), cos(3 / 100.0)].map(Float.init)
        for (a, b) in zip(z, expected) { #expect(abs(a - b) < 1e-6) }
    }
}

/// The library built by `make lib`, next to this package's sources.
let builtLibrary: String = {
    var path = #filePath
    for _ in 0 ..< 3 { path = String(path[..<path.lastIndex(of: "/")!]) }
    return path + "/dist/lib/libld4mrec.so"
}()

@Suite struct TrainedModelThroughTheCABI {
    typealias Load = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<OpaquePointer?>?) -> Int32
    typealias Free = @convention(c) (OpaquePointer?) -> Void
    typealias ScoreAll = @convention(c) (OpaquePointer?, UnsafePointer<Int64>?, Int, UnsafePointer<Int64>?,
                                         UnsafeMutablePointer<Float>?, Int, UnsafeMutablePointer<Int>?) -> Int32
    typealias SetThreads = @convention(c) (Int32) -> Int32

    @Test(.enabled(if: access(builtLibrary, R_OK) == 0, "needs dist/lib/libld4mrec.so: run `make lib` first"))
    func trainSaveLoadGivesTheSameScores() throws {
        let (dataset, h) = TrainerTests.smallRun(epochs: 2)
        let result = try Trainer(dataset: dataset, hyperparameters: h).train()
        let inMemory = try Model(result.parameters)
        let dir = temporaryDirectory()
        try ModelFile.write(result.parameters, to: dir + "/trained.h5")
        // The file holds the model exactly: read back, the same code scores to the bit.
        let reread = try Model(contentsOf: dir + "/trained.h5")

        let library = try #require(dlopen(builtLibrary, RTLD_NOW | RTLD_LOCAL))
        defer { dlclose(library) }
        let load = unsafeBitCast(try #require(dlsym(library, "ld4mrec_model_load")), to: Load.self)
        let free = unsafeBitCast(try #require(dlsym(library, "ld4mrec_model_free")), to: Free.self)
        let scoreAll = unsafeBitCast(try #require(dlsym(library, "ld4mrec_score_all_history")), to: ScoreAll.self)
        // One thread on both sides: the same products in the same order. The library is a
        // release build (the compiler may fuse multiply-adds differently), so the scores
        // agree to float rounding.
        let setThreads = unsafeBitCast(try #require(dlsym(library, "ld4mrec_set_num_threads")), to: SetThreads.self)
        #expect(setThreads(1) == 0)
        defer { _ = setThreads(0) }
        var handle: OpaquePointer?
        #expect(load(dir + "/trained.h5", &handle) == 0)
        defer { free(handle) }

        for user in [0, 7, 123, 499] {
            let history = dataset.train.row(user).map { Int64($0) }
            var userID = Int64(user)
            var scores = [Float](repeating: 0, count: dataset.itemCount)
            var skipped = -1
            #expect(scoreAll(handle, history, history.count, &userID, &scores, scores.count, &skipped) == 0)
            #expect(skipped == 0)
            let expected = try inMemory.scores(inMemory.query(history: history, user: Int64(user)), threads: 1)
            let worst = zip(scores, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-6, "user \(user): scores through the C ABI differ by up to \(worst)")
            let same = try reread.scores(reread.query(history: history, user: Int64(user)), threads: 1) == expected
            #expect(same, "user \(user): the model read back from its file scores differently")
        }
    }
}

@Suite struct ItemKNNTests {
    /// Similarities by hand: users {0,1}, {0,1,2}, {1,2}, {3} and three of {1} alone.
    /// |I_u| = 2, 3, 2, 1, 1, 1, 1; deg = (2, 6, 2, 1). Shared users weighted by 1 / |I_u|:
    /// t_01 = 1/2 + 1/3, t_02 = 1/3, t_12 = 1/3 + 1/2; item 3 has no co-occurrence.
    /// w_ij = t_ij / (sqrt(deg_i) deg_j^beta).
    @Test func knownSimilarities() {
        let train = CSRHistories(rows: [[0, 1], [0, 1, 2], [1, 2], [3], [1], [1], [1]])
        let degree = [2.0, 6, 2, 1]
        func w(_ t: Double, _ i: Int, _ j: Int, _ beta: Double) -> Float {
            Float(t / (degree[i].squareRoot() * pow(degree[j], beta)))
        }
        let (t01, t02, t12) = (5.0 / 6, 1.0 / 3, 5.0 / 6)
        // beta 0: the most shared users win; 1 -> 0 and 1 -> 2 tie, the lower item is kept.
        let popular = ItemKNN.itemItem(train, items: 4, neighbours: 1, popularityExponent: 0, threads: 2)
        #expect(popular.offsets == [0, 1, 2, 3, 3])
        #expect(popular.columns == [1, 0, 1])
        for (got, want) in zip(popular.values, [w(t01, 0, 1, 0), w(t01, 1, 0, 0), w(t12, 2, 1, 0)]) {
            #expect(abs(got - want) < 1e-6)
        }
        // beta 1: item 1's popularity (6) outweighs its shared users for items 0 and 2.
        let penalised = ItemKNN.itemItem(train, items: 4, neighbours: 1, popularityExponent: 1, threads: 2)
        #expect(penalised.columns == [2, 0, 0])
        for (got, want) in zip(penalised.values, [w(t02, 0, 2, 1), w(t01, 1, 0, 1), w(t02, 2, 0, 1)]) {
            #expect(abs(got - want) < 1e-6)
        }
        let all = ItemKNN.itemItem(train, items: 4, neighbours: 3, popularityExponent: 1, threads: 1)
        #expect(all.offsets == [0, 2, 4, 6, 6])
        #expect(all.columns == [1, 2, 0, 2, 0, 1])
        for (got, want) in zip(all.values, [w(t01, 0, 1, 1), w(t02, 0, 2, 1), w(t01, 1, 0, 1), w(t12, 1, 2, 1),
                                            w(t02, 2, 0, 1), w(t12, 2, 1, 1)]) {
            #expect(abs(got - want) < 1e-6)
        }
    }

    /// The choice of beta ranks at most `choiceUsers` validation users: every s-th.
    @Test func aSampleOfValidationUsersTakesEverySthUser() {
        let (dataset, _) = TrainerTests.smallRun(epochs: 1)
        let all = HeldOutSplit(dataset, .valid)
        #expect(all.users.count > 100)
        #expect(all.sample(atMost: all.users.count).users == all.users)
        let sample = all.sample(atMost: 10)
        let s = (all.users.count + 9) / 10
        #expect(sample.users.count <= 10 && sample.users.count > 10 - s)
        for (k, user) in sample.users.enumerated() {
            #expect(user == all.users[k * s] && sample.heldOut[k] == all.heldOut[k * s])
        }
    }

    @Test func aTrainedModelWithTheSparsePriorServesWhatValidationChose() throws {
        var (dataset, h) = TrainerTests.smallRun(epochs: 2)
        h.itemItemPrior = .knn
        h.itemItemNeighbours = 20
        let result = try Trainer(dataset: dataset, hyperparameters: h).train()
        #expect(result.parameters.itemItemSparse != nil && result.parameters.itemItem == nil)
        #expect(result.parameters.hyperparameters.itemItemPrior == .knn)
        // The table is the one of the beta validation chose, which the file records.
        let beta = result.parameters.hyperparameters.knnPopularityExponent
        #expect(ItemKNN.popularityExponents.contains(beta))
        #expect(result.parameters.itemItemSparse == ItemKNN.itemItem(dataset.train, items: dataset.itemCount, neighbours: 20,
                                                                     popularityExponent: beta, threads: 1))
        let served = try Evaluation.evaluate(try Model(result.parameters), on: dataset, split: .valid)
        #expect(abs(served.recall20 - result.finalValidation.recall20) < 2e-3)
        #expect(result.finalValidation.recall20 >= result.bestValidation.recall20)
    }
}

@Suite struct PriorChoiceTests {
    /// `auto` within the dense limit mixes EASE and kNN into the same C-Net and keeps the
    /// better on validation: what training with each prior alone reaches, the better of them
    /// (the same seed gives the same C-Net).
    @Test func autoKeepsTheBetterMixtureOfEASEAndKNN() throws {
        var (dataset, h) = TrainerTests.smallRun(epochs: 2)
        var results: [Hyperparameters.ItemItemPrior: TrainingResult] = [:]
        for kind in [Hyperparameters.ItemItemPrior.ease, .knn, .auto] {
            h.itemItemPrior = kind
            results[kind] = try Trainer(dataset: dataset, hyperparameters: h).train()
        }
        let (ease, knn, auto) = (try #require(results[.ease]), try #require(results[.knn]), try #require(results[.auto]))
        #expect(ease.finalValidation.recall20 != knn.finalValidation.recall20, "the test needs priors that differ")
        let better = knn.finalValidation.recall20 > ease.finalValidation.recall20 ? knn : ease
        #expect(auto.finalValidation == better.finalValidation)
        #expect(auto.parameters.hyperparameters == better.parameters.hyperparameters)  // the kind it kept, not auto
        #expect(auto.parameters.itemItem == better.parameters.itemItem)
        #expect(auto.parameters.itemItemSparse == better.parameters.itemItemSparse)
        #expect(auto.notes.count == 2, "one line per prior tried: \(auto.notes)")
    }
}

@Suite struct EASETests {
    /// Against B = I - P / diag(P), P = (X^T X + lambda I)^{-1} by Gauss-Jordan elimination.
    @Test func matchesTheClosedForm() throws {
        let rows: [[Int32]] = [[0, 1, 2], [1, 3], [0, 3, 4], [2, 4], [0, 1, 4], [3]]
        let n = 5, lambda = 0.7
        var a = [[Double]](repeating: [Double](repeating: 0, count: 2 * n), count: n)
        for row in rows { for i in row { for j in row { a[Int(i)][Int(j)] += 1 } } }
        for i in 0 ..< n { a[i][i] += lambda; a[i][n + i] = 1 }
        for c in 0 ..< n {
            let pivot = a[c][c]
            for k in 0 ..< 2 * n { a[c][k] /= pivot }
            for r in 0 ..< n where r != c {
                let factor = a[r][c]
                for k in 0 ..< 2 * n { a[r][k] -= factor * a[c][k] }
            }
        }
        let b = try EASE.itemItem(CSRHistories(rows: rows), items: n, lambda: lambda)
        for i in 0 ..< n {
            for j in 0 ..< n {
                let want = i == j ? 0 : -a[i][n + j] / a[j][n + j]
                #expect(abs(Double(b[i, j]) - want) < 1e-6, "B[\(i), \(j)] = \(b[i, j]), expected \(want)")
            }
        }
    }
}
