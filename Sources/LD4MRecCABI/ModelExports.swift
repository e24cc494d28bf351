import CLD4MRec
import LD4MRecCore
import LD4MRecServing
import LD4MRecStorage

// Versions, status text, errors and the model handle.

@c @implementation
public func ld4mrec_version_number() -> Int32 {
    Int32(LD4MRecVersion.major * 10000 + LD4MRecVersion.minor * 100 + LD4MRecVersion.patch)
}

@c @implementation
public func ld4mrec_version_string() -> UnsafePointer<CChar>! {
    versionText
}

@c @implementation
public func ld4mrec_abi_version() -> Int32 { Int32(LD4MREC_ABI_VERSION) }

@c @implementation
public func ld4mrec_status_string(_ status: Int32) -> UnsafePointer<CChar>! {
    switch LD4MRecError.Code(rawValue: status) {
    case nil where status == Int32(LD4MREC_OK): return cString("ok")
    case .invalidArgument: return cString("invalid argument")
    case .bufferTooSmall: return cString("buffer too small")
    case .io: return cString("input/output error")
    case .invalidFile: return cString("invalid file")
    case .unsupportedVersion: return cString("unsupported format version")
    case .unknownUser: return cString("unknown user")
    case .outOfMemory: return cString("out of memory")
    case .internalError: return cString("internal error")
    case nil: return cString("unknown status code")
    }
}

@c @implementation
public func ld4mrec_last_error() -> UnsafePointer<CChar>! { lastError() }

@c @implementation
public func ld4mrec_set_num_threads(_ n: Int32) -> Int32 {
    guarded { try Threads.setDefault(Int(n)) }
}

@c @implementation
public func ld4mrec_get_num_threads() -> Int32 { Int32(Threads.defaultCount) }

@c @implementation
public func ld4mrec_model_load(_ path: UnsafePointer<CChar>!, _ outModel: UnsafeMutablePointer<OpaquePointer?>!) -> Int32 {
    ld4mrec_model_load_with(path, nil, outModel)
}

@c @implementation
public func ld4mrec_load_params_default() -> ld4mrec_load_params {
    ld4mrec_load_params(struct_size: MemoryLayout<ld4mrec_load_params>.size, precision: Int32(LD4MREC_PRECISION_FLOAT32))
}

/// The end offset of each field of ld4mrec_load_params (all of them 0.2.0's).
private let loadParamsFieldEnds: [Int] = {
    typealias L = ld4mrec_load_params
    func end<V>(_ path: KeyPath<L, V>) -> Int { (MemoryLayout<L>.offset(of: path) ?? 0) + MemoryLayout<V>.size }
    return [end(\.struct_size), end(\.precision)]
}()

@c @implementation
public func ld4mrec_model_load_with(_ path: UnsafePointer<CChar>!, _ params: UnsafePointer<ld4mrec_load_params>!,
                                    _ outModel: UnsafeMutablePointer<OpaquePointer?>!) -> Int32 {
    guarded {
        let path = try LD4MRecCABI.path(path)
        let out = try required(outModel, "out_model")
        var (precision, screening) = (Precision.float32, true)
        if let params {
            let p = try readPrefix(params, defaults: ld4mrec_load_params_default(), fieldEnds: loadParamsFieldEnds,
                                   minimumSize: MemoryLayout<ld4mrec_load_params>.size, name: "params")
            guard let chosen = Precision.tables(code: p.precision) else {
                throw invalid("params->precision is \(p.precision): use LD4MREC_PRECISION_FLOAT32, _BFLOAT16 or _FLOAT32_UNSCREENED")
            }
            (precision, screening) = chosen
        }
        out.pointee = retain(ModelHandle(try Model(contentsOf: path, precision: precision, screening: screening)))
    }
}

extension Precision {
    /// The tables an LD4MREC_PRECISION_* code asks for: their precision and whether
    /// top-K requests may be screened (`Model.init`).
    static func tables(code: Int32) -> (Precision, screening: Bool)? {
        switch code {
        case Int32(LD4MREC_PRECISION_FLOAT32): return (.float32, true)
        case Int32(LD4MREC_PRECISION_BFLOAT16): return (.bfloat16, true)
        case Int32(LD4MREC_PRECISION_FLOAT32_UNSCREENED): return (.float32, false)
        default: return nil
        }
    }
}

extension Model {
    /// The LD4MREC_PRECISION_* code the model was loaded with.
    var precisionCode: Int32 {
        switch precision {
        case .float32: return Int32(screening ? LD4MREC_PRECISION_FLOAT32 : LD4MREC_PRECISION_FLOAT32_UNSCREENED)
        case .bfloat16: return Int32(LD4MREC_PRECISION_BFLOAT16)
        }
    }
}

@c @implementation
public func ld4mrec_model_free(_ model: OpaquePointer!) {
    guard let model else { return }
    Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(model)).release()
}

@c @implementation
public func ld4mrec_model_get_info(_ model: OpaquePointer!, _ outInfo: UnsafeMutablePointer<ld4mrec_model_info>!) -> Int32 {
    guarded {
        let model = try LD4MRecCABI.model(model)
        let out = try required(outInfo, "out_info")
        let h = model.hyperparameters
        let info = ld4mrec_model_info(
            struct_size: MemoryLayout<ld4mrec_model_info>.size,
            format_version: Int32(ModelFile.formatVersion),
            n_items: Int64(model.itemCount),
            n_users: Int64(model.userIDs.count),
            n_history_users: Int64(model.trainingHistories?.rowCount ?? 0),
            hidden_size: Int32(h.hiddenSize),
            svd_rank: Int32(h.svdRank),
            step_embedding_size: Int32(h.stepEmbeddingSize),
            n_steps: Int32(h.steps),
            n_blocks: Int32(h.blocks),
            film_hidden_size: Int32(h.filmHiddenSize),
            n_modalities: Int32(model.modalityNames.count),
            precision: model.precisionCode,
            weight_bytes: Int64(model.weightBytes))
        try writePrefix(info, to: out, fieldEnds: infoFieldEnds, minimumSize: infoFieldEnds[11], name: "out_info")
    }
}

/// The end offset of each field of ld4mrec_model_info, in order; 0.1.0's struct ends at
/// n_modalities.
private let infoFieldEnds: [Int] = {
    typealias I = ld4mrec_model_info
    func end<V>(_ path: KeyPath<I, V>) -> Int { (MemoryLayout<I>.offset(of: path) ?? 0) + MemoryLayout<V>.size }
    return [end(\.struct_size), end(\.format_version), end(\.n_items), end(\.n_users), end(\.n_history_users),
            end(\.hidden_size), end(\.svd_rank), end(\.step_embedding_size), end(\.n_steps), end(\.n_blocks),
            end(\.film_hidden_size), end(\.n_modalities), end(\.precision), end(\.weight_bytes)]
}()

@c @implementation
public func ld4mrec_model_n_items(_ model: OpaquePointer!) -> Int {
    (try? LD4MRecCABI.model(model).itemCount) ?? 0
}

@c @implementation
public func ld4mrec_model_modality_name(_ model: OpaquePointer!, _ index: Int32) -> UnsafePointer<CChar>! {
    guard let handle = try? modelHandle(model), index >= 0, Int(index) < handle.modalityNames.count else { return nil }
    return UnsafePointer(handle.modalityNames[Int(index)])
}

@c @implementation
public func ld4mrec_model_item_ids(_ model: OpaquePointer!, _ outIDs: UnsafeMutablePointer<Int64>!, _ capacity: Int,
                                   _ outCount: UnsafeMutablePointer<Int>!) -> Int32 {
    guarded {
        let ids = try LD4MRecCABI.model(model).catalogue.ids
        try requireCapacity(capacity, ids.count, outCount, "out_ids")
        let out = try required(outIDs, "out_ids")
        ids.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: ids.count) }
        outCount?.pointee = ids.count
    }
}
