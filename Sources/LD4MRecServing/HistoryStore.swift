import LD4MRecCore

/// User histories (sets of items) keyed by user id, kept up to date while serving.
/// Safe for concurrent readers and writers; each update is atomic. Only items of the
/// model's catalogue are kept: unknown ids are skipped and counted.
public final class HistoryStore: @unchecked Sendable {
    public let catalogue: ItemCatalogue
    private let lock = ReadWriteLock()
    /// Item rows per user, ascending and unique. Guarded by `lock`.
    private var histories: [Int64: [Int32]]

    /// An empty store, or one holding the model file's training histories.
    public init(model: Model, trainingHistories: Bool = false) {
        catalogue = model.catalogue
        var histories: [Int64: [Int32]] = [:]
        if trainingHistories, let csr = model.trainingHistories {
            histories.reserveCapacity(csr.rowCount)
            for (u, id) in model.userIDs.enumerated() { histories[id] = Array(csr.row(u)).sorted().uniqued() }
        }
        self.histories = histories
    }

    init(catalogue: ItemCatalogue, histories: [Int64: [Int32]]) {
        self.catalogue = catalogue
        self.histories = histories
    }

    // MARK: Updates

    /// Adds items to a user's history (creating the user). Returns the number of unknown
    /// item ids skipped.
    @discardableResult
    public func add(user: Int64, items: [Int64]) -> Int {
        let (rows, unknown) = catalogue.resolveSet(items)
        lock.withWriteLock {
            let merged = (histories[user] ?? []) + rows
            histories[user] = merged.sorted().uniqued()
        }
        return unknown
    }

    /// Removes items from a user's history. Returns how many were removed; throws
    /// `.unknownUser` if the store has no such user.
    @discardableResult
    public func remove(user: Int64, items: [Int64]) throws -> Int {
        let rows = Set(catalogue.resolveSet(items).rows)
        return try lock.withWriteLock {
            guard let current = histories[user] else {
                throw LD4MRecError(.unknownUser, "user \(user) has no history in this store")
            }
            let kept = current.filter { !rows.contains($0) }
            histories[user] = kept
            return current.count - kept.count
        }
    }

    /// Replaces a user's history (creating the user). Returns the unknown ids skipped.
    @discardableResult
    public func replace(user: Int64, items: [Int64]) -> Int {
        let (rows, unknown) = catalogue.resolveSet(items)
        lock.withWriteLock { histories[user] = rows }
        return unknown
    }

    /// Deletes a user. Returns whether the user was there.
    @discardableResult
    public func clear(user: Int64) -> Bool {
        lock.withWriteLock { histories.removeValue(forKey: user) != nil }
    }

    // MARK: Reads

    /// A user's history as item ids (in catalogue order), nil for an absent user.
    public func history(of user: Int64) -> [Int64]? {
        itemRows(of: user).map { $0.map { catalogue.ids[Int($0)] } }
    }

    func itemRows(of user: Int64) -> [Int32]? {
        lock.withReadLock { histories[user] }
    }

    public var userCount: Int { lock.withReadLock { histories.count } }

    /// User ids, ascending.
    public var userIDs: [Int64] { lock.withReadLock { Array(histories.keys) }.sorted() }

    /// A consistent copy of every history (copy-on-write: O(1) under the lock).
    func snapshot() -> [Int64: [Int32]] { lock.withReadLock { histories } }
}
