// Serving benchmark: latency of single-user and batch recommendation on a model of
// TikTok's size and MODEL.md's default architecture, each reported as a ratio to the
// bound it cannot beat on this machine: the output layer's matrix product alone (GEMV
// for one user, GEMM for a batch), timed here with the same CBLAS in the same run.
//
// With --train DATASET_DIR it also times training epochs (MODEL.md defaults) against the
// five large matrix products every minibatch needs (input and output layers forward, their
// weight gradients, the output layer's input gradient), timed alone in the same run.
//
//   swift run -c release ld4mrec-benchmark [--repeats N] [--train DATASET_DIR [--epochs N]]
import CLD4MRecBLAS
import LD4MRec
#if canImport(Glibc)
import Glibc
#endif

func now() -> Double { monotonicSeconds() }

/// Median seconds per call over `repeats` timed runs of `body`.
func median(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()  // warm-up
    var times: [Double] = []
    for _ in 0 ..< repeats {
        let start = now()
        try body()
        times.append(now() - start)
    }
    times.sort()
    return times[times.count / 2]
}

func ms(_ seconds: Double) -> String {
    let value = (seconds * 1e5).rounded() / 100
    return "\(value) ms"
}
func ratio(_ a: Double, _ b: Double) -> String { "\((a / b * 100).rounded() / 100)x" }
func option(_ name: String) -> String? {
    guard let i = CommandLine.arguments.firstIndex(of: name), i + 1 < CommandLine.arguments.count else { return nil }
    return CommandLine.arguments[i + 1]
}

/// Median epoch seconds of a short training run, and the GEMM-only time of one epoch.
func trainingBenchmark(_ folder: String, epochs: Int) throws {
    let dataset = try Dataset.load(directory: folder)
    var h = Hyperparameters()
    h.maxEpochs = epochs
    h.patience = epochs
    let trainer = try Trainer(dataset: dataset, hyperparameters: h)
    var seconds: [Double] = []
    _ = try trainer.train { seconds.append($0.seconds) }
    seconds.sort()
    let epoch = seconds[seconds.count / 2]

    let (b, n, d) = (h.batchSize, dataset.itemCount, h.hiddenSize)
    let x = (0 ..< b * n).map { _ in Float.random(in: -1 ... 1) }
    let w = (0 ..< n * d).map { _ in Float.random(in: -0.01 ... 0.01) }
    let hidden = (0 ..< b * d).map { _ in Float.random(in: -1 ... 1) }
    var outBD = [Float](repeating: 0, count: b * d)
    var outBN = [Float](repeating: 0, count: b * n)
    var outND = [Float](repeating: 0, count: n * d)
    let batchGEMMs = median(3) {
        // input forward X W_in^T, input gradient dH^T X, output forward H W_out^T,
        // output gradients dY^T H and dY W_out.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(b), blasint(d), blasint(n), 1, x, blasint(n), w, blasint(n), 0, &outBD, blasint(d))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(d), blasint(n), blasint(b), 1, hidden, blasint(d), x, blasint(n), 0, &outND, blasint(n))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(b), blasint(n), blasint(d), 1, hidden, blasint(d), w, blasint(d), 0, &outBN, blasint(n))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(n), blasint(d), blasint(b), 1, x, blasint(n), hidden, blasint(d), 0, &outND, blasint(d))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(b), blasint(d), blasint(n), 1, x, blasint(n), w, blasint(d), 0, &outBD, blasint(d))
    }
    let users = (0 ..< dataset.userCount).filter { !dataset.train.row($0).isEmpty }.count
    let batches = (users + b - 1) / b
    let bound = batchGEMMs * Double(batches)
    print("| training epoch, \(dataset.name), MODEL.md defaults (median of \(epochs)) | \(ms(epoch)) | 5 GEMMs x \(batches) batches \(ms(bound)) | \(ratio(epoch, bound)) |")
}

func main() throws {
    var repeats = 50
    if let i = CommandLine.arguments.firstIndex(of: "--repeats"), i + 1 < CommandLine.arguments.count,
       let value = Int(CommandLine.arguments[i + 1]) { repeats = max(1, value) }

    var spec = SyntheticModelSpec()
    spec.items = 6710
    spec.users = 9308
    spec.historyLength = 6
    spec.hyperparameters.hiddenSize = 1000
    spec.hyperparameters.svdRank = 100
    spec.hyperparameters.filmHiddenSize = 128
    spec.modalities = [("image", 128), ("audio", 128)]
    spec.itemItemPrior = true  // as trained models have by default: a 6,710 x 6,710 prior
    let model = try Model(try ModelParameters.synthetic(spec))
    let store = HistoryStore(model: model, trainingHistories: true)
    let (n, d) = (model.itemCount, model.hiddenSize)
    print("model: \(n) items, d = \(d), k = 100, 2 modalities x 128, \(model.userIDs.count) users with histories; median of \(repeats) runs")

    // Bounds: the output layer alone, as CBLAS computes it.
    let weights = (0 ..< n * d).map { _ in Float.random(in: -0.01 ... 0.01) }
    let batchSize = 256
    let hidden = (0 ..< batchSize * d).map { _ in Float.random(in: -1 ... 1) }
    var out = [Float](repeating: 0, count: batchSize * n)
    func outputLayer(_ rows: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(rows), blasint(n), blasint(d),
                    1, hidden, blasint(d), weights, blasint(d), 0, &out, blasint(n))
    }
    let gemv = median(repeats) { outputLayer(1) }
    let gemm = median(max(3, repeats / 5)) { outputLayer(batchSize) }

    let users = Array(model.userIDs.prefix(batchSize))
    var next = 0
    let single = try median(repeats) {
        _ = try model.recommend(model.query(user: users[next % users.count], in: store), k: 20)
        next += 1
    }
    let candidates = Array(model.catalogue.ids.prefix(300))
    let rerank = median(repeats) {
        _ = model.scores(model.query(user: users[next % users.count], in: store), candidates: candidates)
        next += 1
    }
    let batch = try median(max(3, repeats / 5)) {
        _ = try model.recommend(users.map { model.query(user: $0, in: store) }, k: 20)
    }

    print("| measurement | median | bound | ratio to bound |")
    print("|---|---|---|---|")
    print("| recommend, 1 user, k = 20 | \(ms(single)) | output GEMV \(ms(gemv)) | \(ratio(single, gemv)) |")
    print("| score 300 candidates, 1 user | \(ms(rerank)) | output GEMV \(ms(gemv)) | \(ratio(rerank, gemv)) |")
    print("| recommend, batch of \(batchSize) users, k = 20 | \(ms(batch)) (\(ms(batch / Double(batchSize))) per user) | output GEMM \(ms(gemm)) | \(ratio(batch, gemm)) |")
    if let folder = option("--train") { try trainingBenchmark(folder, epochs: Int(option("--epochs") ?? "") ?? 3) }
}

try main()
