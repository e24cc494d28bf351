import LD4MRecCore

/// User histories (sets of item ids) keyed by user id, kept up to date while serving.
/// Safe for concurrent readers and writers; each update is atomic.
///
/// A store keeps every item id it is given, whatever model serves it: histories are sets
/// of external ids, and a model resolves them to its rows when it scores (ids it does not
/// know are skipped and counted per query). So one store serves any model, and a model
/// swap loses no history item: an item the new model does not know is kept, and served
/// again by a later model that knows it. The store remembers one model's catalogue (the
/// model it was made with, or the one given to `setModel`) only to count, in the results
/// of its updates, the ids that model does not know.
public final class HistoryStore: @unchecked Sendable {
    private let lock = ReadWriteLock()
    /// Item ids per user, ascending and unique. Guarded by `lock`.
    private var histories: [Int64: [Int64]]
    /// The catalogue unknown ids are counted against. Guarded by `lock`.
    private var catalogue: ItemCatalogue

    /// An empty store, or one holding the model file's training histories.
    public init(model: Model, trainingHistories: Bool = false) {
        catalogue = model.catalogue
        var histories: [Int64: [Int64]] = [:]
        if trainingHistories, let csr = model.trainingHistories {
            histories.reserveCapacity(csr.rowCount)
            for (u, id) in model.userIDs.enumerated() {
                histories[id] = csr.row(u).map { model.catalogue.ids[Int($0)] }.sorted().uniqued()
            }
        }
        self.histories = histories
    }

    init(catalogue: ItemCatalogue, histories: [Int64: [Int64]]) {
        self.catalogue = catalogue
        self.histories = histories
    }

    // MARK: The model unknown ids are counted against

    /// Makes `model` the one whose unknown ids the updates count, and returns how many
    /// stored items (one per user and item) it does not know. Histories are unchanged:
    /// any model can serve the store at any time, this only changes what is counted.
    @discardableResult
    public func setModel(_ model: Model) -> Int {
        lock.withWriteLock { catalogue = model.catalogue }
        // Counted under the read lock: requests go on, updates wait for the count (one
        // hash lookup per stored item).
        return withHistories { $0.values.reduce(0) { $0 + model.catalogue.unknownCount($1) } }
    }

    private var currentCatalogue: ItemCatalogue { lock.withReadLock { catalogue } }

    // MARK: Updates

    /// Adds items to a user's history (creating the user). Returns how many of the ids
    /// the store's model does not know (kept all the same).
    @discardableResult
    public func add(user: Int64, items: [Int64]) -> Int {
        let added = items.sorted().uniqued()
        let unknown = currentCatalogue.unknownCount(added)
        lock.withWriteLock { histories[user] = (histories[user] ?? []).sortedUnion(added) }
        return unknown
    }

    /// Removes items from a user's history. Returns how many were removed; throws
    /// `.unknownUser` if the store has no such user.
    @discardableResult
    public func remove(user: Int64, items: [Int64]) throws -> Int {
        let removed = Set(items)
        return try lock.withWriteLock {
            guard let current = histories[user] else {
                throw LD4MRecError(.unknownUser, "user \(user) has no history in this store")
            }
            let kept = current.filter { !removed.contains($0) }
            histories[user] = kept
            return current.count - kept.count
        }
    }

    /// Replaces a user's history (creating the user). Returns how many of the ids the
    /// store's model does not know (kept all the same).
    @discardableResult
    public func replace(user: Int64, items: [Int64]) -> Int {
        let history = items.sorted().uniqued()
        let unknown = currentCatalogue.unknownCount(history)
        lock.withWriteLock { histories[user] = history }
        return unknown
    }

    /// Deletes a user. Returns whether the user was there.
    @discardableResult
    public func clear(user: Int64) -> Bool {
        lock.withWriteLock { histories.removeValue(forKey: user) != nil }
    }

    // MARK: Reads

    /// A user's history as item ids, ascending; nil for an absent user.
    public func history(of user: Int64) -> [Int64]? {
        lock.withReadLock { histories[user] }
    }

    public var userCount: Int { lock.withReadLock { histories.count } }

    /// User ids, ascending.
    public var userIDs: [Int64] { lock.withReadLock { Array(histories.keys) }.sorted() }

    /// Runs `body` on every history, under the read lock: one consistent state while
    /// updates wait. (Not a copy-on-write copy read outside the lock: once the copy is
    /// released, an update changes the dictionary in place, ordered after the reads only
    /// by reference counts in the uninstrumented Swift runtime, which ThreadSanitizer
    /// cannot see; the whole test suite stays checkable that way.)
    func withHistories<T>(_ body: ([Int64: [Int64]]) throws -> T) rethrows -> T {
        try lock.withReadLock { try body(histories) }
    }
}
