import CLD4MRec
import LD4MRecCore
import LD4MRecServing
#if canImport(Glibc)
import Glibc
#endif

// The helpers every thunk uses: turn thrown errors into status codes plus the per-thread
// message, and turn C arguments into Swift values after validating them.

/// Per-thread last-error text, owned by the library (a malloc'd C string per thread,
/// freed when the thread exits or the next error replaces it).
private let lastErrorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

func setLastError(_ message: String) {
    let copy = strdup(message)
    free(pthread_getspecific(lastErrorKey))
    pthread_setspecific(lastErrorKey, copy)
}

func lastError() -> UnsafePointer<CChar> {
    guard let message = pthread_getspecific(lastErrorKey) else { return cString("") }
    return UnsafePointer(message.assumingMemoryBound(to: CChar.self))
}

/// LD4MRecVersion.string as C text, for the life of the process.
nonisolated(unsafe) let versionText: UnsafePointer<CChar> = strdup(LD4MRecVersion.string).map { UnsafePointer($0) } ?? cString("")

/// Text that lives as long as the process (for static strings returned to C).
func cString(_ text: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// Runs a thunk's body: OK, or the error's status with its message recorded.
func guarded(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return Int32(LD4MREC_OK)
    } catch let error as LD4MRecError {
        setLastError(error.message)
        return error.code.rawValue
    } catch {
        setLastError("internal error: \(error)")
        return LD4MRecError.Code.internalError.rawValue
    }
}

func invalid(_ message: String) -> LD4MRecError { LD4MRecError(.invalidArgument, message) }

/// A required pointer argument.
func required<T>(_ pointer: T?, _ name: String) throws -> T {
    guard let pointer else { throw invalid("\(name) must not be NULL") }
    return pointer
}

/// An array argument given as pointer + count; NULL is allowed only with count 0.
func array<T>(_ pointer: UnsafePointer<T>?, _ count: Int, _ name: String) throws -> [T] {
    guard count >= 0, count <= Int(Int32.max) * 64 else { throw invalid("\(name): count \(UInt(bitPattern: count)) is too large") }
    guard count > 0 else { return [] }
    guard let pointer else { throw invalid("\(name) is NULL but its count is \(count)") }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}

/// A C `size_t` capacity as a Swift count: values above Int.max (SIZE_MAX, say) mean
/// "more than enough".
func capacityCount(_ capacity: Int) -> Int { capacity < 0 ? Int.max : capacity }

/// Checks an output capacity; on shortfall reports the needed count and throws.
func requireCapacity(_ capacity: Int, _ needed: Int, _ countOut: UnsafeMutablePointer<Int>?, _ what: String) throws {
    guard capacityCount(capacity) >= needed else {
        countOut?.pointee = needed
        throw LD4MRecError(.bufferTooSmall, "\(what): capacity \(capacity) is below the \(needed) needed")
    }
}

/// A parameter struct as the caller compiled it: struct_size says how much of it exists,
/// since fields are appended in later versions. Reads the fields `fieldEnds` (each
/// field's end offset, in order) that struct_size covers; the others keep `defaults`.
/// Sizes below `minimumSize` (the first version's struct) are refused.
func readPrefix<T>(_ pointer: UnsafePointer<T>, defaults: T, fieldEnds: [Int], minimumSize: Int, name: String) throws -> T {
    // Read struct_size alone first: the caller's struct may be shorter than ours.
    let size = UnsafeRawPointer(pointer).load(as: Int.self)
    guard size >= minimumSize else {
        throw invalid("\(name)->struct_size is \(size), below the \(minimumSize) bytes of the oldest version of the struct; set it to sizeof(\(T.self))")
    }
    let covered = fieldEnds.last { $0 <= size } ?? 0
    var result = defaults
    withUnsafeMutableBytes(of: &result) { $0.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: covered)) }
    return result
}

/// Writes an output struct into a caller's struct of `struct_size` bytes: only the
/// fields it covers (their end offsets in `fieldEnds`), struct_size itself left as given.
func writePrefix<T>(_ value: T, to pointer: UnsafeMutablePointer<T>, fieldEnds: [Int], minimumSize: Int, name: String) throws {
    let size = UnsafeRawPointer(pointer).load(as: Int.self)
    guard size >= minimumSize else {
        throw invalid("\(name)->struct_size is \(size), below the \(minimumSize) bytes of the oldest version of the struct; set it to sizeof(\(T.self))")
    }
    let covered = fieldEnds.last { $0 <= size } ?? 0
    withUnsafeBytes(of: value) { bytes in
        let skip = MemoryLayout<Int>.size  // struct_size, first
        UnsafeMutableRawPointer(pointer).advanced(by: skip)
            .copyMemory(from: bytes.baseAddress! + skip, byteCount: max(0, covered - skip))
    }
}

func validK(_ k: Int32) throws -> Int {
    guard k >= 1 else { throw invalid("k must be at least 1, got \(k)") }
    return Int(k)
}

// MARK: Handles

/// What an `ld4mrec_model *` points to: the model plus the C strings it hands out.
final class ModelHandle {
    let model: Model
    let modalityNames: [UnsafeMutablePointer<CChar>]

    init(_ model: Model) {
        self.model = model
        modalityNames = model.modalityNames.map { strdup($0) }
    }

    deinit { modalityNames.forEach { free($0) } }
}

func retain(_ handle: ModelHandle) -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(handle).toOpaque()) }
func retain(_ store: HistoryStore) -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(store).toOpaque()) }

func modelHandle(_ pointer: OpaquePointer?) throws -> ModelHandle {
    Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(try required(pointer, "model"))).takeUnretainedValue()
}

func model(_ pointer: OpaquePointer?) throws -> Model { try modelHandle(pointer).model }

func store(_ pointer: OpaquePointer?) throws -> HistoryStore {
    Unmanaged<HistoryStore>.fromOpaque(UnsafeRawPointer(try required(pointer, "store"))).takeUnretainedValue()
}

func path(_ pointer: UnsafePointer<CChar>?) throws -> String {
    let path = String(cString: try required(pointer, "path"))
    guard !path.isEmpty else { throw invalid("path must not be empty") }
    return path
}
