// Serving benchmark: latency of single-user and batch recommendation on a model of
// TikTok's size and MODEL.md's default architecture, each reported as a ratio to the
// bound it cannot beat on this machine: the output layer's matrix product alone (GEMV
// for one user, GEMM for a batch), timed here with the same CBLAS in the same run.
//
//   swift run -c release ld4mrec-benchmark [--repeats N]
import CLD4MRecBLAS
import LD4MRec
#if canImport(Glibc)
import Glibc
#endif

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

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
        _ = try model.recommend(try model.query(user: users[next % users.count], in: store), k: 20)
        next += 1
    }
    let candidates = Array(model.catalogue.ids.prefix(300))
    let rerank = try median(repeats) {
        _ = model.scores(try model.query(user: users[next % users.count], in: store), candidates: candidates)
        next += 1
    }
    let batch = try median(max(3, repeats / 5)) {
        _ = try model.recommend(try users.map { try model.query(user: $0, in: store) }, k: 20)
    }

    print("| measurement | median | bound | ratio to bound |")
    print("|---|---|---|---|")
    print("| recommend, 1 user, k = 20 | \(ms(single)) | output GEMV \(ms(gemv)) | \(ratio(single, gemv)) |")
    print("| score 300 candidates, 1 user | \(ms(rerank)) | output GEMV \(ms(gemv)) | \(ratio(rerank, gemv)) |")
    print("| recommend, batch of \(batchSize) users, k = 20 | \(ms(batch)) (\(ms(batch / Double(batchSize))) per user) | output GEMM \(ms(gemm)) | \(ratio(batch, gemm)) |")
}

try main()
