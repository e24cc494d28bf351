import CLD4MRec
import LD4MRecCore
import LD4MRecServing

// The user-history store.

@c @implementation
public func ld4mrec_store_new(_ model: OpaquePointer!, _ outStore: UnsafeMutablePointer<OpaquePointer?>!) -> Int32 {
    guarded {
        let model = try LD4MRecCABI.model(model)
        try required(outStore, "out_store").pointee = retain(HistoryStore(model: model))
    }
}

@c @implementation
public func ld4mrec_store_from_model(_ model: OpaquePointer!, _ outStore: UnsafeMutablePointer<OpaquePointer?>!) -> Int32 {
    guarded {
        let model = try LD4MRecCABI.model(model)
        try required(outStore, "out_store").pointee = retain(HistoryStore(model: model, trainingHistories: true))
    }
}

@c @implementation
public func ld4mrec_store_load(_ model: OpaquePointer!, _ path: UnsafePointer<CChar>!,
                               _ outStore: UnsafeMutablePointer<OpaquePointer?>!, _ outSkipped: UnsafeMutablePointer<Int>!) -> Int32 {
    guarded {
        let model = try LD4MRecCABI.model(model)
        let path = try LD4MRecCABI.path(path)
        let out = try required(outStore, "out_store")
        let (store, skipped) = try HistoryStore.load(from: path, model: model)
        out.pointee = retain(store)
        outSkipped?.pointee = skipped
    }
}

@c @implementation
public func ld4mrec_store_save(_ store: OpaquePointer!, _ path: UnsafePointer<CChar>!) -> Int32 {
    guarded { try LD4MRecCABI.store(store).save(to: try LD4MRecCABI.path(path)) }
}

@c @implementation
public func ld4mrec_store_free(_ store: OpaquePointer!) {
    guard let store else { return }
    Unmanaged<HistoryStore>.fromOpaque(UnsafeRawPointer(store)).release()
}

@c @implementation
public func ld4mrec_store_add(_ store: OpaquePointer!, _ userID: Int64, _ items: UnsafePointer<Int64>!, _ nItems: Int,
                              _ outSkipped: UnsafeMutablePointer<Int>!) -> Int32 {
    update(store, items, nItems, outSkipped) { $0.add(user: userID, items: $1) }
}

@c @implementation
public func ld4mrec_store_remove(_ store: OpaquePointer!, _ userID: Int64, _ items: UnsafePointer<Int64>!, _ nItems: Int,
                                 _ outRemoved: UnsafeMutablePointer<Int>!) -> Int32 {
    update(store, items, nItems, outRemoved) { try $0.remove(user: userID, items: $1) }
}

@c @implementation
public func ld4mrec_store_replace(_ store: OpaquePointer!, _ userID: Int64, _ items: UnsafePointer<Int64>!, _ nItems: Int,
                                  _ outSkipped: UnsafeMutablePointer<Int>!) -> Int32 {
    update(store, items, nItems, outSkipped) { $0.replace(user: userID, items: $1) }
}

/// A history update from a C array of item ids; `out` (may be NULL) receives the count
/// the update returns.
private func update(_ store: OpaquePointer?, _ items: UnsafePointer<Int64>?, _ count: Int, _ out: UnsafeMutablePointer<Int>?,
                    _ body: (HistoryStore, [Int64]) throws -> Int) -> Int32 {
    guarded {
        let store = try LD4MRecCABI.store(store)
        let result = try body(store, try array(items, count, "items"))
        out?.pointee = result
    }
}

@c @implementation
public func ld4mrec_store_clear_user(_ store: OpaquePointer!, _ userID: Int64, _ outExisted: UnsafeMutablePointer<Bool>!) -> Int32 {
    guarded {
        let existed = try LD4MRecCABI.store(store).clear(user: userID)
        outExisted?.pointee = existed
    }
}

@c @implementation
public func ld4mrec_store_get_history(_ store: OpaquePointer!, _ userID: Int64, _ outItems: UnsafeMutablePointer<Int64>!,
                                      _ capacity: Int, _ outCount: UnsafeMutablePointer<Int>!) -> Int32 {
    guarded {
        let store = try LD4MRecCABI.store(store)
        let count = try required(outCount, "out_count")
        guard let history = store.history(of: userID) else {
            throw LD4MRecError(.unknownUser, "user \(userID) has no history in this store")
        }
        try copyOut(history, outItems, capacity, count, "out_items")
    }
}

@c @implementation
public func ld4mrec_store_n_users(_ store: OpaquePointer!) -> Int {
    (try? LD4MRecCABI.store(store).userCount) ?? 0
}

@c @implementation
public func ld4mrec_store_user_ids(_ store: OpaquePointer!, _ outIDs: UnsafeMutablePointer<Int64>!, _ capacity: Int,
                                   _ outCount: UnsafeMutablePointer<Int>!) -> Int32 {
    guarded {
        let store = try LD4MRecCABI.store(store)
        let count = try required(outCount, "out_count")
        try copyOut(store.userIDs, outIDs, capacity, count, "out_ids")
    }
}

@c @implementation
public func ld4mrec_store_set_model(_ store: OpaquePointer!, _ model: OpaquePointer!, _ outUnknown: UnsafeMutablePointer<Int>!) -> Int32 {
    guarded {
        let store = try LD4MRecCABI.store(store)
        let unknown = store.setModel(try LD4MRecCABI.model(model))
        outUnknown?.pointee = unknown
    }
}

/// Query-then-fill: always reports the length; copies when the buffer is large enough.
private func copyOut(_ values: [Int64], _ out: UnsafeMutablePointer<Int64>?, _ capacity: Int,
                     _ count: UnsafeMutablePointer<Int>, _ name: String) throws {
    try requireCapacity(capacity, values.count, count, name)
    if !values.isEmpty {
        let out = try required(out, name)
        values.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: values.count) }
    }
    count.pointee = values.count
}
