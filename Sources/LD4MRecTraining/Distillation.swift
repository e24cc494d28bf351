#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore
import LD4MRecServing

/// What a distilled model learns from: a model trained on the same dataset, or any
/// recommender's scores of every user and item of the dataset (users x items: row u is the
/// dataset's user u, column i its item i; an `.npy` file gives them to `ld4mrec train`).
public enum Teacher {
    case model(ModelParameters)
    case scores(Matrix)
}

/// A teacher's ranking for distillation (docs/MODEL.md, "Distillation"): for user u, q_u is
/// the softmax, over the items outside u's training history, of the teacher's scores
/// standardised over those items and divided by the temperature; 0 on the history. The
/// trainer adds `distillation_weight |history| q_u` to u's target.
///
/// The rows are computed once and kept while users x items floats fit `cacheBytes`
/// (TikTok: 250 MB); beyond, each minibatch's rows are computed when it is drawn, so that
/// memory grows with the batch, as the rest of training does. Given scores are turned into
/// rows once, whatever their size: they are in memory already.
final class TeacherRanking {
    /// The model that scores the rows; nil when the teacher gave its scores.
    let teacher: Model?
    let dataset: Dataset
    let temperature: Double
    /// Rows of every user (users x items), when they fit.
    private var cache: AlignedBuffer<Float>?
    /// The rows of a minibatch, without the cache.
    private var batch: AlignedBuffer<Float>?

    /// Bytes of rows kept for the whole training by default.
    static let defaultCacheBytes = 1 << 30

    init(_ teacher: Teacher, dataset: Dataset, temperature: Double, cacheBytes: Int = defaultCacheBytes) throws {
        self.dataset = dataset
        self.temperature = temperature
        let (n, users) = (dataset.itemCount, dataset.userCount)
        switch teacher {
        case .model(let parameters):
            self.teacher = try Model(parameters)
        case .scores(let scores):
            try Self.requireShape(of: scores, for: dataset)
            self.teacher = nil
            let rows = try AlignedBuffer<Float>(scores.values)
            try normalise(Array(0 ..< users), rows: rows.pointer)
            cache = rows
            return
        }
        let (cells, overflow) = users.multipliedReportingOverflow(by: n)
        guard !overflow, cells <= cacheBytes / MemoryLayout<Float>.stride else { return }
        let rows = try AlignedBuffer<Float>(uninitialized: cells)
        let chunk = Model.rowsPerPass(items: n, atMost: 256)
        for start in stride(from: 0, to: users, by: chunk) {
            try compute(Array(start ..< min(start + chunk, users)), into: rows.pointer + start * n)
        }
        cache = rows
    }

    /// q of `users`: row `index` is the `index`-th user's (valid until the next call).
    func rows(of users: [Int]) throws -> (_ index: Int) -> UnsafePointer<Float> {
        let n = dataset.itemCount
        if let cache { return { UnsafePointer(cache.pointer + users[$0] * n) } }
        let buffer: AlignedBuffer<Float>
        if let batch, batch.count >= users.count * n {
            buffer = batch
        } else {
            buffer = try AlignedBuffer(uninitialized: users.count * n)
            batch = buffer
        }
        try compute(users, into: buffer.pointer)
        return { UnsafePointer(buffer.pointer + $0 * n) }
    }

    /// Throws unless `scores` hold one row per user and one column per item of `dataset`.
    static func requireShape(of scores: Matrix, for dataset: Dataset) throws {
        guard (scores.rows, scores.cols) == (dataset.userCount, dataset.itemCount) else {
            throw LD4MRecError.invalidArgument("the teacher's scores are \(scores.rows) x \(scores.cols); this dataset needs "
                + "one row per user and one column per item: \(dataset.userCount) x \(dataset.itemCount)")
        }
    }

    private func compute(_ users: [Int], into out: UnsafeMutablePointer<Float>) throws {
        guard let teacher else { throw LD4MRecError(.internalError, "given scores are all kept: no row is computed") }
        let queries = users.map { teacher.query(history: dataset.train.row($0).lazy.map { Int64($0) }, user: Int64($0)) }
        try teacher.scores(queries, into: UnsafeMutableBufferPointer(start: out, count: users.count * dataset.itemCount))
        try normalise(users, rows: out)
    }

    /// Turns the scores of `users` (row r: users[r]'s) into their q, in place.
    private func normalise(_ users: [Int], rows out: UnsafeMutablePointer<Float>) throws {
        let n = dataset.itemCount
        for (r, user) in users.enumerated() {
            guard Self.distribution(out + r * n, items: n, history: dataset.train.row(user), temperature: temperature) else {
                throw LD4MRecError.invalidArgument("the teacher's scores of user \(user) are not finite: it cannot teach")
            }
        }
    }

    /// Turns a row of scores into q, in place; false if a score outside the history is
    /// not finite.
    static func distribution(_ row: UnsafeMutablePointer<Float>, items n: Int, history: some Sequence<Int32>,
                             temperature: Double) -> Bool {
        for item in history { row[Int(item)] = -.infinity }  // marks the history (a repeated item too)
        var (outside, sum, largest) = (0, 0.0, -Double.infinity)
        for i in 0 ..< n where row[i] != -.infinity {
            outside += 1
            sum += Double(row[i])
            largest = max(largest, Double(row[i]))
        }
        guard outside > 0 else {
            row.update(repeating: 0, count: n)
            return true
        }
        guard sum.isFinite else { return false }
        let mean = sum / Double(outside)
        var squares = 0.0
        for i in 0 ..< n where row[i] != -.infinity { squares += (Double(row[i]) - mean) * (Double(row[i]) - mean) }
        let scale = 1 / (max(squares / Double(outside), 1e-24).squareRoot() * temperature)
        var total = 0.0
        for i in 0 ..< n {
            let e = row[i] == -.infinity ? 0 : exp((Double(row[i]) - largest) * scale)
            row[i] = Float(e)
            total += e
        }
        let normaliser = Float(1 / total)
        for i in 0 ..< n { row[i] *= normaliser }
        return true
    }
}
