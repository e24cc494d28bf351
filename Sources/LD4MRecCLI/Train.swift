import ArgumentParser
import LD4MRec
#if canImport(Glibc)
import Glibc
#endif

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train LD4MRec on a dataset in the MMRec layout and write the model file.",
        discussion: """
            Defaults are docs/MODEL.md's. Each epoch prints one line: a live, overwritten \
            line on a terminal, plain lines otherwise; --log FILE also writes one JSON \
            object per epoch. Early stopping keeps the best validation Recall@20.
            """)

    @Option(help: "Dataset folder (<name>.inter and <modality>_feat.npy files).")
    var data: String
    @Option(help: "Where to write the model file.")
    var out: String
    @Option(help: "Modalities to use, comma-separated, in order ('none' for none; default: every *_feat.npy, alphabetically).")
    var modalities: String?

    @Option(help: "Maximum epochs.") var epochs = 1000
    @Option(help: "Stop after this many epochs without a better validation Recall@20.") var patience = 20
    @Option var seed: UInt64 = 0
    @Option(help: "Hidden size d of the C-Net.") var hidden = 1000
    @Option(name: .customLong("svd-rank"), help: "Rank k of the randomized SVD.") var svdRank = 100
    @Option(name: .customLong("svd-oversamples")) var svdOversamples = 10
    @Option(name: .customLong("svd-power-iterations")) var svdPowerIterations = 4
    @Option(name: .customLong("step-embedding"), help: "Step-embedding size d_f.") var stepEmbedding = 10
    @Option(help: "Stacked CG/PG blocks.") var blocks = 2
    @Option(name: .customLong("film-hidden"), help: "Hidden size of the FiLM MLPs.") var filmHidden = 128
    @Option(help: "Diffusion steps T.") var steps = 5
    @Option(name: .customLong("noise-scale")) var noiseScale = 0.1
    @Option(name: .customLong("noise-min")) var noiseMin = 1e-4
    @Option(name: .customLong("soft-target-probability")) var softTargetProbability = 0.01
    @Option(name: .customLong("soft-target-gamma")) var softTargetGamma = 0.01
    @Option(name: .customLong("step-sampler")) var stepSampler = Hyperparameters.StepSampler.importance
    @Option var loss = Hyperparameters.Loss.squaredError
    @Option var lr = 1e-3
    @Option(name: .customLong("batch-size")) var batchSize = 400
    @Option(name: .customLong("input-dropout")) var inputDropout = 0.0
    @Flag(name: .customLong("conditions-from-dropped-history"), help: "Compute the condition signals from the dropped-out history.")
    var conditionsFromDroppedHistory = false
    @Option(name: .customLong("weight-decay")) var weightDecay = 0.0
    @Option(name: .customLong("feature-standardization"))
    var featureStandardization = Hyperparameters.FeatureStandardization.trainingItems
    @Option(name: .customLong("item-item"), help: "The item-item prior mixed into the scores.")
    var itemItem = Hyperparameters.ItemItemPrior.ease
    @Option(name: .customLong("ease-lambda"), help: "L2 regularisation of the EASE prior.") var easeLambda = 50.0
    @Option(name: .customLong("ensemble-weight"), help: "C-Net weight in [0, 1] of the mixture (default: chosen on validation).")
    var ensembleWeight: Double?
    @Option(help: "Append one JSON object per epoch to this file.") var log: String?

    func hyperparameters() throws -> Hyperparameters {
        var h = Hyperparameters()
        h.hiddenSize = hidden
        h.svdRank = svdRank
        h.svdOversamples = svdOversamples
        h.svdPowerIterations = svdPowerIterations
        h.stepEmbeddingSize = stepEmbedding
        h.blocks = blocks
        h.filmHiddenSize = filmHidden
        h.steps = steps
        h.noiseScale = noiseScale
        h.noiseMin = noiseMin
        h.softTargetProbability = softTargetProbability
        h.softTargetGamma = softTargetGamma
        h.stepSampler = stepSampler
        h.loss = loss
        h.learningRate = lr
        h.batchSize = batchSize
        h.maxEpochs = epochs
        h.patience = patience
        h.inputDropout = inputDropout
        h.conditionsFromDroppedHistory = conditionsFromDroppedHistory
        h.weightDecay = weightDecay
        h.featureStandardization = featureStandardization
        h.itemItemPrior = itemItem
        h.easeLambda = easeLambda
        h.ensembleWeight = ensembleWeight
        h.seed = seed
        return h
    }

    func run() throws {
        let h = try hyperparameters()
        let names: [String]? = modalities.map { $0 == "none" ? [] : $0.split(separator: ",").map(String.init) }
        let dataset = try reportingErrors { try Dataset.load(directory: data, modalityNames: names) }
        print("dataset \(dataset.name): \(dataset.userCount) users, \(dataset.itemCount) items, "
            + "\(dataset.train.items.count) train / \(dataset.validation.items.count) valid / \(dataset.test.items.count) test, "
            + "modalities \(dataset.modalities.map { "\($0.name) (\($0.features.cols))" })")
        if dataset.duplicatesDropped > 0 { print("dropped \(dataset.duplicatesDropped) duplicate interactions") }
        let trainer = try reportingErrors { try Trainer(dataset: dataset, hyperparameters: h) }
        let logFile = try log.map { path -> UnsafeMutablePointer<FILE> in
            guard let file = fopen(path, "a") else { throw ValidationErrorMessage(message: "cannot open --log file '\(path)'") }
            return file
        }
        defer { logFile.map { _ = fclose($0) } }
        let live = isatty(STDOUT_FILENO) == 1
        let start = monotonic()
        let result = try reportingErrors {
            try trainer.train { report in
                let v = report.validation
                let remaining = max(0, min(h.maxEpochs - report.epoch, report.bestEpoch + h.patience - report.epoch))
                let line = "epoch \(report.epoch)  loss \(format(report.loss, 6))  val recall@20 \(format(v.recall20, 4))  "
                    + "ndcg@20 \(format(v.ndcg20, 4))  \(format(report.seconds, 1)) s  best epoch \(report.bestEpoch)  "
                    + "ETA \(format(Double(remaining) * report.seconds, 0)) s (at most)"
                if live { print("\r\u{1B}[2K" + line, terminator: report.isBest ? "\n" : "") } else { print(line) }
                fflush(nil)  // all streams: the progress line shows at once
                if let logFile {
                    fputs("{\"epoch\": \(report.epoch), \"loss\": \(report.loss), \"recall@10\": \(v.recall10), "
                        + "\"recall@20\": \(v.recall20), \"ndcg@10\": \(v.ndcg10), \"ndcg@20\": \(v.ndcg20), "
                        + "\"seconds\": \(report.seconds), \"best\": \(report.isBest)}\n", logFile)
                    fflush(logFile)
                }
            }
        }
        if live { print("") }
        try reportingErrors { try ModelFile.write(result.parameters, to: out) }
        let total = monotonic() - start
        let b = result.bestValidation
        print("best epoch \(result.bestEpoch): val recall@20 \(format(b.recall20, 4)) ndcg@20 \(format(b.ndcg20, 4)); "
            + "\(result.epochs.count) epochs in \(format(total, 1)) s (+\(format(result.setupSeconds, 1)) s SVD and signals)")
        for note in result.notes { print(note) }
        if let w = result.parameters.hyperparameters.ensembleWeight, result.parameters.itemItem != nil {
            let f = result.finalValidation
            print("with the item-item prior (C-Net weight \(format(w, 2))): val recall@20 \(format(f.recall20, 4)) ndcg@20 \(format(f.ndcg20, 4))")
            if let logFile {
                fputs("{\"final\": true, \"ensemble_weight\": \(w), \"recall@10\": \(f.recall10), \"recall@20\": \(f.recall20), "
                    + "\"ndcg@10\": \(f.ndcg10), \"ndcg@20\": \(f.ndcg20)}\n", logFile)
            }
        }
        print("wrote \(out)")
    }
}

func format(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0 ..< decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = "\(rounded)"
    if decimals == 0, text.hasSuffix(".0") { text.removeLast(2) }
    if decimals > 0, let dot = text.firstIndex(of: "."), !text.contains("e") {
        let have = text.distance(from: dot, to: text.endIndex) - 1
        if have < decimals { text += String(repeating: "0", count: decimals - have) }
    }
    return text
}

func monotonic() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

// The choices of Hyperparameters as command-line values (their raw values, listed in --help).
extension Hyperparameters.StepSampler: ExpressibleByArgument {}
extension Hyperparameters.Loss: ExpressibleByArgument {}
extension Hyperparameters.FeatureStandardization: ExpressibleByArgument {}
extension Hyperparameters.ItemItemPrior: ExpressibleByArgument {}
