import CLD4MRec
import LD4MRecCore
import LD4MRecServing

// Recommending and scoring.

@c @implementation
public func ld4mrec_recommend_params_default() -> ld4mrec_recommend_params {
    ld4mrec_recommend_params(struct_size: MemoryLayout<ld4mrec_recommend_params>.size, exclude_history: true,
                             only_items: nil, n_only_items: 0, excluded_items: nil, n_excluded_items: 0, n_threads: 0)
}

/// The end offset of each field of ld4mrec_recommend_params, in order; 0.1.0's struct
/// ends at n_excluded_items.
private let paramsFieldEnds: [Int] = {
    typealias P = ld4mrec_recommend_params
    func end<V>(_ path: KeyPath<P, V>) -> Int { (MemoryLayout<P>.offset(of: path) ?? 0) + MemoryLayout<V>.size }
    return [end(\.struct_size), end(\.exclude_history), end(\.only_items), end(\.n_only_items), end(\.excluded_items),
            end(\.n_excluded_items), end(\.n_threads)]
}()

private func options(_ params: UnsafePointer<ld4mrec_recommend_params>?) throws -> RecommendOptions {
    guard let params else { return RecommendOptions() }
    let p = try readPrefix(params, defaults: ld4mrec_recommend_params_default(), fieldEnds: paramsFieldEnds,
                           minimumSize: paramsFieldEnds[5], name: "params")
    guard p.n_threads >= 0 else { throw invalid("params->n_threads must be 0 (the default) or more, got \(p.n_threads)") }
    return RecommendOptions(
        excludeHistory: p.exclude_history,
        onlyItems: p.only_items == nil && p.n_only_items == 0 ? nil : try array(p.only_items, p.n_only_items, "params->only_items"),
        excludedItems: try array(p.excluded_items, p.n_excluded_items, "params->excluded_items"),
        threads: Int(p.n_threads))
}

private func historyQuery(_ model: Model, _ history: UnsafePointer<Int64>?, _ count: Int,
                          _ userID: UnsafePointer<Int64>?) throws -> Query {
    model.query(history: try array(history, count, "history"), user: userID?.pointee)
}

private func write(_ recommendations: [Recommendation], _ items: UnsafeMutablePointer<Int64>,
                   _ scores: UnsafeMutablePointer<Float>?) {
    for (i, recommendation) in recommendations.enumerated() {
        items[i] = recommendation.itemID
        scores?[i] = recommendation.score
    }
}

private func recommendOne(_ model: Model, _ query: Query, _ k: Int32, _ params: UnsafePointer<ld4mrec_recommend_params>?,
                          _ outItems: UnsafeMutablePointer<Int64>?, _ outScores: UnsafeMutablePointer<Float>?,
                          _ capacity: Int, _ outCount: UnsafeMutablePointer<Int>?) throws {
    let items = try required(outItems, "out_items")
    let count = try required(outCount, "out_count")
    let recommendations = try model.recommend(query, k: try validK(k), options: try options(params))
    try requireCapacity(capacity, recommendations.count, count, "out_items")
    write(recommendations, items, outScores)
    count.pointee = recommendations.count
}

@c @implementation
public func ld4mrec_recommend_user(_ model: OpaquePointer!, _ store: OpaquePointer!, _ userID: Int64, _ k: Int32,
                                   _ params: UnsafePointer<ld4mrec_recommend_params>!, _ outItems: UnsafeMutablePointer<Int64>!,
                                   _ outScores: UnsafeMutablePointer<Float>!, _ capacity: Int,
                                   _ outCount: UnsafeMutablePointer<Int>!) -> Int32 {
    guarded {
        let model = try LD4MRecCABI.model(model)
        let query = model.query(user: userID, in: try LD4MRecCABI.store(store))
        try recommendOne(model, query, k, params, outItems, outScores, capacity, outCount)
    }
}

@c @implementation
public func ld4mrec_recommend_history(_ model: OpaquePointer!, _ history: UnsafePointer<Int64>!, _ nHistory: Int,
                                      _ userID: UnsafePointer<Int64>!, _ k: Int32,
                                      _ params: UnsafePointer<ld4mrec_recommend_params>!,
                                      _ outItems: UnsafeMutablePointer<Int64>!, _ outScores: UnsafeMutablePointer<Float>!,
                                      _ capacity: Int, _ outCount: UnsafeMutablePointer<Int>!,
                                      _ outSkipped: UnsafeMutablePointer<Int>!) -> Int32 {
    guarded {
        let model = try LD4MRecCABI.model(model)
        let query = try historyQuery(model, history, nHistory, userID)
        try recommendOne(model, query, k, params, outItems, outScores, capacity, outCount)
        outSkipped?.pointee = query.skippedItems
    }
}

@c @implementation
public func ld4mrec_recommend_users(_ model: OpaquePointer!, _ store: OpaquePointer!, _ userIDs: UnsafePointer<Int64>!,
                                    _ nUsers: Int, _ k: Int32, _ params: UnsafePointer<ld4mrec_recommend_params>!,
                                    _ outItems: UnsafeMutablePointer<Int64>!, _ outScores: UnsafeMutablePointer<Float>!,
                                    _ capacity: Int, _ outCounts: UnsafeMutablePointer<Int>!) -> Int32 {
    guarded {
        let model = try LD4MRecCABI.model(model)
        let store = try LD4MRecCABI.store(store)
        let users = try array(userIDs, nUsers, "user_ids")
        guard !users.isEmpty else { throw invalid("n_users must be at least 1") }
        let k = try validK(k)
        let items = try required(outItems, "out_items")
        let (needed, overflow) = users.count.multipliedReportingOverflow(by: k)
        guard !overflow, capacityCount(capacity) >= needed else {
            throw LD4MRecError(.bufferTooSmall, "out_items: capacity \(capacity) is below n_users * k = \(overflow ? "(overflow)" : "\(needed)")")
        }
        let options = try options(params)
        let results = try model.recommend(users.map { model.query(user: $0, in: store) }, k: k, options: options)
        for (u, recommendations) in results.enumerated() {
            let row = u * k
            write(recommendations, items + row, outScores.map { $0 + row })
            for i in recommendations.count ..< k {
                items[row + i] = -1
                outScores?[row + i] = -.infinity
            }
            outCounts?[u] = recommendations.count
        }
    }
}

@c @implementation
public func ld4mrec_score_user(_ model: OpaquePointer!, _ store: OpaquePointer!, _ userID: Int64,
                               _ candidates: UnsafePointer<Int64>!, _ nCandidates: Int,
                               _ outScores: UnsafeMutablePointer<Float>!, _ outUnknown: UnsafeMutablePointer<Int>!) -> Int32 {
    guarded {
        let model = try LD4MRecCABI.model(model)
        let query = model.query(user: userID, in: try LD4MRecCABI.store(store))
        try scoreCandidates(model, query, candidates, nCandidates, outScores, outUnknown)
    }
}

@c @implementation
public func ld4mrec_score_history(_ model: OpaquePointer!, _ history: UnsafePointer<Int64>!, _ nHistory: Int,
                                  _ userID: UnsafePointer<Int64>!, _ candidates: UnsafePointer<Int64>!, _ nCandidates: Int,
                                  _ outScores: UnsafeMutablePointer<Float>!, _ outUnknown: UnsafeMutablePointer<Int>!,
                                  _ outSkipped: UnsafeMutablePointer<Int>!) -> Int32 {
    guarded {
        let model = try LD4MRecCABI.model(model)
        let query = try historyQuery(model, history, nHistory, userID)
        try scoreCandidates(model, query, candidates, nCandidates, outScores, outUnknown)
        outSkipped?.pointee = query.skippedItems
    }
}

private func scoreCandidates(_ model: Model, _ query: Query, _ candidates: UnsafePointer<Int64>?, _ count: Int,
                             _ outScores: UnsafeMutablePointer<Float>?, _ outUnknown: UnsafeMutablePointer<Int>?) throws {
    let candidates = try array(candidates, count, "candidates")
    let out = candidates.isEmpty ? outScores : try required(outScores, "out_scores")
    let (scores, unknown) = try model.scores(query, candidates: candidates)
    if let out { scores.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: scores.count) } }
    outUnknown?.pointee = unknown
}

@c @implementation
public func ld4mrec_score_all_users(_ model: OpaquePointer!, _ store: OpaquePointer!, _ userIDs: UnsafePointer<Int64>!,
                                    _ nUsers: Int, _ outScores: UnsafeMutablePointer<Float>!, _ capacity: Int) -> Int32 {
    guarded {
        let model = try LD4MRecCABI.model(model)
        let store = try LD4MRecCABI.store(store)
        let users = try array(userIDs, nUsers, "user_ids")
        guard !users.isEmpty else { throw invalid("n_users must be at least 1") }
        let out = try required(outScores, "out_scores")
        let queries = users.map { model.query(user: $0, in: store) }
        try model.scores(queries, into: UnsafeMutableBufferPointer(start: out, count: capacityCount(capacity)))
    }
}

@c @implementation
public func ld4mrec_score_all_history(_ model: OpaquePointer!, _ history: UnsafePointer<Int64>!, _ nHistory: Int,
                                      _ userID: UnsafePointer<Int64>!, _ outScores: UnsafeMutablePointer<Float>!,
                                      _ capacity: Int, _ outSkipped: UnsafeMutablePointer<Int>!) -> Int32 {
    guarded {
        let model = try LD4MRecCABI.model(model)
        let query = try historyQuery(model, history, nHistory, userID)
        let out = try required(outScores, "out_scores")
        try model.scores([query], into: UnsafeMutableBufferPointer(start: out, count: capacityCount(capacity)))
        outSkipped?.pointee = query.skippedItems
    }
}
