#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore
import LD4MRecServing

/// A teacher's ranking for distillation (docs/MODEL.md, "Distillation"): for user u, q_u is
/// the softmax, over the items outside u's training history, of the teacher's scores
/// standardised over those items and divided by the temperature; 0 on the history. The
/// trainer adds `distillation_weight |history| q_u` to u's target.
///
/// The rows are computed once and kept while users x items floats fit `cacheBytes`
/// (TikTok: 250 MB); beyond, each minibatch's rows are computed when it is drawn, so that
/// memory grows with the batch, as the rest of training does.
final class TeacherRanking {
    let teacher: Model
    let dataset: Dataset
    let temperature: Double
    /// Rows of every user (users x items), when they fit.
    private var cache: AlignedBuffer<Float>?
    /// The rows of a minibatch, without the cache.
    private var batch: AlignedBuffer<Float>?

    /// Bytes of rows kept for the whole training by default.
    static let defaultCacheBytes = 1 << 30

    init(_ teacher: ModelParameters, dataset: Dataset, temperature: Double, cacheBytes: Int = defaultCacheBytes) throws {
        self.teacher = try Model(teacher)
        self.dataset = dataset
        self.temperature = temperature
        let (n, users) = (dataset.itemCount, dataset.userCount)
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

    private func compute(_ users: [Int], into out: UnsafeMutablePointer<Float>) throws {
        let n = dataset.itemCount
        let queries = users.map { teacher.query(history: dataset.train.row($0).lazy.map { Int64($0) }, user: Int64($0)) }
        try teacher.scores(queries, into: UnsafeMutableBufferPointer(start: out, count: users.count * n))
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
