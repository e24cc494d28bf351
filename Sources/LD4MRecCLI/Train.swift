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

            Hyperparameters (each is recorded in the model file under its name; \
            `ld4mrec inspect` shows them):
            \(HyperparameterOptions.help)
            """)

    @Option(help: "Dataset folder (<name>.inter and <modality>_feat.npy files).")
    var data: String
    @Option(help: "Where to write the model file.")
    var out: String
    @Option(help: "Modalities to use, comma-separated, in order ('none' for none; default: every *_feat.npy, alphabetically).")
    var modalities: String?

    @Option(help: "Append one JSON object per epoch to this file.") var log: String?
    @Option(help: ArgumentHelp("A model file trained on the same dataset whose ranking the model learns (distillation). Without it, a teacher of --teacher-cnets C-Nets is trained first (--distillation-weight 0: none).", valueName: "file"))
    var teacher: String?
    @Option(help: ArgumentHelp("Instead of --teacher, any recommender's scores whose ranking the model learns: a .npy file, float32 or float16, one row per user and one column per item of the dataset (row u: the .inter file's user u, column i: its item i).", valueName: "file"))
    var teacherScores: String?

    @Argument(parsing: .allUnrecognized, help: .hidden)
    var hyperparameterArguments: [String] = []

    func validate() throws {
        _ = try HyperparameterOptions.parse(hyperparameterArguments)
        if teacher != nil && teacherScores != nil { throw ValidationError("--teacher and --teacher-scores name two teachers: give one") }
    }

    func run() throws {
        let h = try HyperparameterOptions.parse(hyperparameterArguments)
        let names: [String]? = modalities.map { $0 == "none" ? [] : $0.split(separator: ",").map(String.init) }
        let dataset = try reportingErrors { try Dataset.load(directory: data, modalityNames: names) }
        print("dataset \(dataset.name): \(dataset.userCount) users, \(dataset.itemCount) items, "
            + "\(dataset.train.items.count) train / \(dataset.validation.items.count) valid / \(dataset.test.items.count) test, "
            + "modalities \(dataset.modalities.map { "\($0.name) (\($0.features.cols))" })")
        if dataset.duplicatesDropped > 0 { print("dropped \(dataset.duplicatesDropped) duplicate interactions") }
        let given = try reportingErrors {
            try teacher.map { Teacher.model(try ModelFile.read(from: $0)) } ?? teacherScores.map { .scores(try NPY.readMatrix($0)) }
        }
        let trainer = try reportingErrors { try Trainer(dataset: dataset, hyperparameters: h, distillingFrom: given) }
        let logFile = try reportingErrors { try log.map { try LineLog(appendingTo: $0) } }
        let live = isatty(STDOUT_FILENO) == 1
        let start = monotonicSeconds()
        let result = try reportingErrors {
            try trainer.train { report in
                let v = report.validation
                let remaining = max(0, min(h.maxEpochs - report.epoch, report.bestEpoch + h.patience - report.epoch))
                let cnets = report.isTeacher ? h.teacherCNets : h.cnets
                let who = [report.isTeacher ? "teacher" : nil, cnets > 1 ? "C-Net \(report.cnet)/\(cnets)" : nil].compactMap { $0 }
                let line = who.map { $0 + "  " }.joined() + "epoch \(report.epoch)  loss \(format(report.loss, 6))  val recall@20 \(format(v.recall20, 4))  "
                    + "ndcg@20 \(format(v.ndcg20, 4))  \(format(report.seconds, 1)) s  best epoch \(report.bestEpoch)  "
                    + "ETA \(format(Double(remaining) * report.seconds, 0)) s (at most\(cnets > report.cnet || report.isTeacher ? ", this C-Net" : ""))"
                if live { print("\r\u{1B}[2K" + line, terminator: report.isBest ? "\n" : "") } else { print(line) }
                fflush(nil)  // all streams: the progress line shows at once
                logFile?.append("{\"teacher\": \(report.isTeacher), \"cnet\": \(report.cnet), \"epoch\": \(report.epoch), \"loss\": \(report.loss), \"recall@10\": \(v.recall10), "
                    + "\"recall@20\": \(v.recall20), \"ndcg@10\": \(v.ndcg10), \"ndcg@20\": \(v.ndcg20), "
                    + "\"seconds\": \(report.seconds), \"best\": \(report.isBest)}")
            }
        }
        if live { print("") }
        try reportingErrors { try ModelFile.write(result.parameters, to: out) }
        let total = monotonicSeconds() - start
        let b = result.bestValidation
        let epochs = result.bestEpochs.map(String.init).joined(separator: ", ")
        let cnets = h.cnets > 1 ? "best epochs \(epochs), their average" : "best epoch \(epochs)"
        print("\(cnets): val recall@20 \(format(b.recall20, 4)) ndcg@20 \(format(b.ndcg20, 4)); "
            + "\(result.epochs.count) epochs in \(format(total, 1)) s (+\(format(result.setupSeconds, 1)) s SVD and signals)")
        for note in result.notes { print(note) }
        if let w = result.parameters.hyperparameters.ensembleWeight, result.parameters.hasItemItemPrior {
            let f = result.finalValidation
            print("with the item-item prior (C-Net weight \(format(w, 2))): val recall@20 \(format(f.recall20, 4)) ndcg@20 \(format(f.ndcg20, 4))")
            logFile?.append("{\"final\": true, \"ensemble_weight\": \(w), \"recall@10\": \(f.recall10), \"recall@20\": \(f.recall20), "
                + "\"ndcg@10\": \(f.ndcg10), \"ndcg@20\": \(f.ndcg20)}")
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
