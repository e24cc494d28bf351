// The library's side of the benchmark (benchmarks/peers.py runs it next to PyTorch and ONNX
// Runtime, in one run, and prints the ratios): serving a model file, training epochs on
// a dataset folder, the bounds of this machine measured in the same run, and how costs
// grow with the catalogue. Prints one JSON object.
//
//   ld4mrec-benchmark --model FILE [--threads N] [--repeats N] [--train DIR --epochs N]
//   ld4mrec-benchmark --scaling ITEMS [--precision float32|bfloat16] [--train-users N]
//   ld4mrec-benchmark --knn-scaling ITEMS           (the sparse item-item prior's build)
import CLD4MRecBLAS
import LD4MRec
#if canImport(Glibc)
import Glibc
#endif

// MARK: Command line

func option(_ name: String) -> String? {
    guard let i = CommandLine.arguments.firstIndex(of: name), i + 1 < CommandLine.arguments.count else { return nil }
    return CommandLine.arguments[i + 1]
}

func intOption(_ name: String, _ fallback: Int) -> Int { option(name).flatMap { Int($0) } ?? fallback }

// MARK: Timing

/// Median seconds of `repeats` runs of `body` after one warm-up run.
func median(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var times: [Double] = []
    for _ in 0 ..< max(1, repeats) {
        let start = monotonicSeconds()
        try body()
        times.append(monotonicSeconds() - start)
    }
    times.sort()
    return times[times.count / 2]
}

/// Peak resident memory of this process so far, in bytes.
func peakMemory() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// A JSON value, printed without a dependency.
indirect enum JSON {
    case number(Double), text(String), object([(String, JSON)]), array([JSON])

    var rendered: String {
        switch self {
        case .number(let x): return x.isFinite ? "\(x)" : "null"
        case .text(let s): return "\"" + String(s.map { $0 == "\"" ? "'" : $0 }) + "\""
        case .object(let fields): return "{" + fields.map { "\"\($0.0)\": \($0.1.rendered)" }.joined(separator: ", ") + "}"
        case .array(let values): return "[" + values.map(\.rendered).joined(separator: ", ") + "]"
        }
    }
}

// MARK: Bounds

/// Seconds of the five minibatch products of training (input layer forward and weight
/// gradient, output layer forward, weight gradient and input gradient) for a batch of b
/// users, n items, hidden size d, split over `threads` as the trainer splits them.
func minibatchGEMMs(b: Int, n: Int, d: Int, threads: Int, repeats: Int) -> Double {
    let x = AlignedTable(b * n), w = AlignedTable(n * d), h = AlignedTable(b * d)
    let (outBD, outND, outBN) = (AlignedTable(b * d), AlignedTable(n * d), AlignedTable(b * n))
    return median(repeats) {
        ThreadPool.shared.run(threads: threads) { team in
            let dRows = team.share(of: d, granule: 512), nRows = team.share(of: n, granule: 512)
            BLAS.gemm(transposeA: false, transposeB: true, m: b, n: dRows.count, k: n, x.p, lda: n, w.p + dRows.lowerBound * n,
                      ldb: n, outBD.p + dRows.lowerBound, ldc: d)
            BLAS.gemm(transposeA: true, transposeB: false, m: dRows.count, n: n, k: b, h.p + dRows.lowerBound, lda: d, x.p,
                      ldb: n, outND.p + dRows.lowerBound * n, ldc: n)
            BLAS.gemm(transposeA: false, transposeB: true, m: b, n: nRows.count, k: d, h.p, lda: d, w.p + nRows.lowerBound * d,
                      ldb: d, outBN.p + nRows.lowerBound, ldc: n)
            BLAS.gemm(transposeA: true, transposeB: false, m: nRows.count, n: d, k: b, outBN.p + nRows.lowerBound, lda: n, h.p,
                      ldb: d, outND.p + nRows.lowerBound * d, ldc: d)
            BLAS.gemm(transposeA: false, transposeB: false, m: b, n: dRows.count, k: n, outBN.p, lda: n, w.p + dRows.lowerBound,
                      ldb: d, outBD.p + dRows.lowerBound, ldc: d)
        }
    }
}

/// Seconds to read `bytes` of float32 once, split over `threads` (the memory bound of a
/// single request, which reads each weight once).
func readOnce(bytes: Int, threads: Int, repeats: Int) -> Double {
    let count = bytes / 4
    let table = AlignedTable(count)
    for i in 0 ..< count { table.p[i] = Float(i & 7) }
    var sink: Float = 0
    let seconds = median(repeats) {
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: 64)
        ThreadPool.shared.run(threads: threads) { team in
            let share = team.share(of: count, granule: 4096)
            sums[team.rank] = BLAS.dot(table.p + share.lowerBound, table.p + share.lowerBound, count: share.count)
        }
        sink += sums[0]
        sums.deallocate()
    }
    if sink == -1 { print("") }  // keeps the reads
    return seconds
}

final class AlignedTable {
    let p: UnsafeMutablePointer<Float>
    init(_ count: Int) {
        p = UnsafeMutableRawPointer.allocate(byteCount: max(4, count * 4), alignment: 64).bindMemory(to: Float.self, capacity: count)
        p.initialize(repeating: 0.01, count: count)
    }
    deinit { p.deallocate() }
}

// MARK: Serving

func serving(_ path: String, threads: Int, repeats: Int) throws -> JSON {
    var fields: [(String, JSON)] = []
    let users = 200
    // float32 (screened where the CPU can), bfloat16, and float32 without the screen.
    let configurations: [(name: String, precision: Precision, screening: Bool)] =
        [("float32", .float32, true), ("bfloat16", .bfloat16, true), ("float32_unscreened", .float32, false)]
    for (name, precision, screening) in configurations {
        let model = try Model(contentsOf: path, precision: precision, screening: screening)
        let store = HistoryStore(model: model, trainingHistories: true)
        let ids = Array(model.userIDs.prefix(users))
        let options = RecommendOptions(threads: threads)
        var next = 0
        let single = try median(repeats) {
            _ = try model.recommend(model.query(user: ids[next % ids.count], in: store), k: 20, options: options)
            next += 1
        }
        let candidates = Array(model.catalogue.ids.prefix(300))
        let rerank = try median(repeats) {
            _ = try model.scores(model.query(user: ids[next % ids.count], in: store), candidates: candidates, threads: threads)
            next += 1
        }
        let batchUsers = Array(model.userIDs.prefix(400))
        let batch = try median(max(3, repeats / 10)) {
            _ = try model.recommend(batchUsers.map { model.query(user: $0, in: store) }, k: 20, options: options)
        }
        var entry: [(String, JSON)] = [
            ("single_user_top20_s", .number(single)), ("candidates300_s", .number(rerank)),
            ("batch400_top20_s", .number(batch)), ("batch400_users_per_s", .number(400 / batch)),
            ("weight_bytes", .number(Double(model.weightBytes))),
        ]
        if name == "float32" {
            entry.append(("screened", .text(model.screensTopK ? "yes" : "no")))
            entry.append(("dense_bytes", .number(Double(model.denseBytes))))
            entry.append(("read_weights_once_s", .number(readOnce(bytes: model.denseBytes, threads: threads, repeats: repeats))))
            entry.append(("concurrency", concurrency(model, store, ids)))
        }
        fields.append((name, .object(entry)))
    }
    return .object(fields)
}

/// Requests per second of 1 calling thread and of 8, each call on one thread: the library
/// must not collapse when a host calls it from more threads than there are cores.
func concurrency(_ model: Model, _ store: HistoryStore, _ ids: [Int64]) -> JSON {
    func throughput(callers: Int, seconds: Double) -> Double {
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: callers)  // one slot per caller
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: callers)
        let deadline = monotonicSeconds() + seconds
        var threads: [pthread_t] = []
        final class Context { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
        for caller in 0 ..< callers {
            let context = Context {
                var served = 0
                while monotonicSeconds() < deadline {
                    let user = ids[(caller * 37 + served) % ids.count]
                    if (try? model.recommend(model.query(user: user, in: store), k: 20, options: RecommendOptions(threads: 1))) != nil {
                        served += 1
                    }
                }
                counts[caller] = served
            }
            var thread = pthread_t()
            pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                Unmanaged<Context>.fromOpaque(raw).takeRetainedValue().body()
                return nil
            }, Unmanaged.passRetained(context).toOpaque())
            threads.append(thread)
        }
        for thread in threads { pthread_join(thread, nil) }
        return Double((0 ..< callers).reduce(0) { $0 + counts[$1] }) / seconds
    }
    let one = throughput(callers: 1, seconds: 3)
    let eight = throughput(callers: 8, seconds: 3)
    return .object([("cores", .number(Double(Threads.cores))), ("one_caller_per_s", .number(one)),
                    ("eight_callers_per_s", .number(eight)), ("ratio_to_cores_x_one", .number(eight / (one * Double(Threads.cores))))])
}

// MARK: Training

func training(_ folder: String, epochs: Int, threads: Int) throws -> JSON {
    let dataset = try Dataset.load(directory: folder)
    var h = Hyperparameters()
    h.maxEpochs = epochs
    h.patience = epochs
    h.itemItemPrior = .none  // its closed-form solve is setup, not an epoch
    h.distillationWeight = 0  // a teacher's training is epochs of other C-Nets
    try Threads.setDefault(threads)
    let trainer = try Trainer(dataset: dataset, hyperparameters: h)
    var seconds: [Double] = []
    _ = try trainer.train { seconds.append($0.seconds) }
    let sorted = seconds.sorted()
    let batches = (dataset.train.rowCount + h.batchSize - 1) / h.batchSize
    let gemms = minibatchGEMMs(b: h.batchSize, n: dataset.itemCount, d: h.hiddenSize, threads: threads, repeats: 3)
    let flops = 5.0 * 2 * Double(h.batchSize * dataset.itemCount * h.hiddenSize)
    return .object([
        ("dataset", .text(dataset.name)), ("epochs", .array(seconds.map { .number($0) })),
        ("epoch_median_s", .number(sorted[sorted.count / 2])), ("minibatches", .number(Double(batches))),
        ("five_gemms_s", .number(gemms)), ("gemm_gflops", .number(flops / gemms / 1e9)),
        ("gemm_bound_epoch_s", .number(gemms * Double(batches))), ("peak_memory_bytes", .number(Double(peakMemory()))),
    ])
}

// MARK: Scaling

/// One catalogue size: a synthetic model of MODEL.md's architecture (no item-item prior,
/// which is n_items^2), its memory, one user's latency and a batch's throughput; with
/// --train-users, a training epoch on a synthetic dataset of that many items.
func scaling(items: Int, threads: Int, repeats: Int) throws -> JSON {
    var spec = SyntheticModelSpec()
    spec.items = items
    spec.users = 1000
    spec.historyLength = 8
    spec.itemItemPrior = false
    spec.hyperparameters.hiddenSize = 1000
    spec.hyperparameters.svdRank = 100
    spec.hyperparameters.filmHiddenSize = 128
    spec.modalities = [("image", 128), ("audio", 128)]
    var fields: [(String, JSON)] = [("items", .number(Double(items)))]
    let trainUsers = intOption("--train-users", 0)
    if trainUsers > 0 {
        var builtin = BuiltinDataset()
        builtin.items = items
        builtin.users = trainUsers
        let dataset = builtin.generate()
        var h = Hyperparameters()
        (h.maxEpochs, h.patience, h.itemItemPrior, h.distillationWeight) = (2, 2, .none, 0)
        try Threads.setDefault(threads)
        let trainer = try Trainer(dataset: dataset, hyperparameters: h)
        var seconds: [Double] = []
        _ = try trainer.train { seconds.append($0.seconds) }
        fields.append(("train_users", .number(Double(trainUsers))))
        fields.append(("epoch_s", .number(seconds.min() ?? 0)))
        fields.append(("training_peak_memory_bytes", .number(Double(peakMemory()))))
        return .object(fields)
    }
    let precision = option("--precision").flatMap(Precision.init(rawValue:)) ?? .float32
    let model = try Model(try ModelParameters.synthetic(spec), precision: precision)
    let store = HistoryStore(model: model, trainingHistories: true)
    let ids = Array(model.userIDs.prefix(200))
    var next = 0
    let options = RecommendOptions(threads: threads)
    let single = try median(repeats) {
        _ = try model.recommend(model.query(user: ids[next % ids.count], in: store), k: 20, options: options)
        next += 1
    }
    let batchUsers = Array(model.userIDs.prefix(400))
    let batch = try median(3) {
        _ = try model.recommend(batchUsers.map { model.query(user: $0, in: store) }, k: 20, options: options)
    }
    fields += [("precision", .text(precision.rawValue)), ("weight_bytes", .number(Double(model.weightBytes))),
               ("single_user_top20_s", .number(single)),
               ("batch400_users_per_s", .number(400 / batch)), ("peak_memory_bytes", .number(Double(peakMemory())))]
    return .object(fields)
}

// MARK: The sparse prior at catalogue scale

/// The kNN item-item prior (the default above the dense limit) on synthetic histories of
/// `items` items: items in topics of 200, each of items / 2 users drawing 20 items from two
/// topics, Zipf(0.8) popularity within a topic. Build time, entries, bytes in the model
/// file (int64 offsets and columns, float32 values), peak memory.
func knnScaling(items n: Int, threads: Int) -> JSON {
    let (topicSize, history) = (200, 20)
    let topics = (n + topicSize - 1) / topicSize
    var cumulative = (1 ... topicSize).map { 1 / pow(Double($0), 0.8) }
    for i in 1 ..< topicSize { cumulative[i] += cumulative[i - 1] }
    var rng = SeededGenerator(seed: 7)
    var rows: [[Int32]] = []
    for _ in 0 ..< n / 2 {
        let chosen = (rng.next() % UInt64(topics), rng.next() % UInt64(topics))
        var items = Set<Int32>()
        for _ in 0 ..< history {
            let topic = rng.next() % 2 == 0 ? chosen.0 : chosen.1
            let draw = rng.nextUniform() * cumulative[topicSize - 1]
            let rank = cumulative.firstIndex { $0 >= draw } ?? topicSize - 1
            items.insert(Int32(min(n - 1, Int(topic) * topicSize + rank)))
        }
        rows.append(items.sorted())
    }
    let train = CSRHistories(rows: rows)
    let start = monotonicSeconds()
    let prior = ItemKNN.itemItem(train, items: n, neighbours: Hyperparameters().itemItemNeighbours,
                                 popularityExponent: Hyperparameters().knnPopularityExponent, threads: threads)
    let seconds = monotonicSeconds() - start
    let entries = prior.columns.count
    return .object([
        ("items", .number(Double(n))), ("users", .number(Double(train.rowCount))),
        ("interactions", .number(Double(train.items.count))), ("build_s", .number(seconds)),
        ("entries", .number(Double(entries))), ("file_bytes", .number(Double((n + 1) * 8 + entries * 12))),
        ("peak_memory_bytes", .number(Double(peakMemory()))),
    ])
}

// MARK: Main

func main() throws {
    let threads = intOption("--threads", 2)
    let repeats = intOption("--repeats", 50)
    var fields: [(String, JSON)] = [
        ("threads", .number(Double(threads))), ("cores", .number(Double(Threads.cores))),
        ("openblas_kernels", .text(BLAS.kernels)),
    ]
    if let items = option("--knn-scaling").flatMap({ Int($0) }) {
        fields.append(("knn_scaling", knnScaling(items: items, threads: threads)))
    } else if let items = option("--scaling").flatMap({ Int($0) }) {
        fields.append(("scaling", try scaling(items: items, threads: threads, repeats: repeats)))
    } else {
        let b = 400, n = 6710, d = 1000
        let gemm = minibatchGEMMs(b: b, n: n, d: d, threads: threads, repeats: 5)
        fields.append(("gemm_gflops", .number(5 * 2 * Double(b * n * d) / gemm / 1e9)))
        if let model = option("--model") { fields.append(("serving", try serving(model, threads: threads, repeats: repeats))) }
        if let folder = option("--train") {
            fields.append(("training", try training(folder, epochs: intOption("--epochs", 3), threads: threads)))
        }
    }
    print(JSON.object(fields).rendered)
}

do {
    try main()
} catch {
    print("ld4mrec-benchmark: \(error)")
    exit(1)
}
