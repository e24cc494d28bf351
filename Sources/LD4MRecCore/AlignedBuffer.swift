import CLD4MRecKernels

/// A fixed-size array of trivial elements on a 64-byte (cache line, AVX-512) boundary;
/// tables (`hugePages`) from 2 MB up in transparent huge pages where Linux grants them
/// (`ld4mrk_allocate`).
/// BLAS kernels take different paths for differently aligned data, and so round
/// differently: tables and activations on one alignment give the same scores whatever
/// address the allocator returned.
package final class AlignedBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    package static var alignment: Int { 64 }
    package let count: Int
    package let pointer: UnsafeMutablePointer<Element>

    /// Uninitialised storage for `count` elements; `hugePages` for tables kept across
    /// calls, not for a request's own buffers. Throws `.outOfMemory` when the memory is
    /// not there: sizes follow model files and requests, and the process that loaded the
    /// library must get an error, not an abort.
    package init(uninitialized count: Int, hugePages: Bool = false) throws {
        let (bytes, overflow) = max(1, count).multipliedReportingOverflow(by: MemoryLayout<Element>.stride)
        guard count >= 0, !overflow, let raw = ld4mrk_allocate(bytes, hugePages ? 1 : 0) else {
            throw LD4MRecError(.outOfMemory, "cannot allocate \(count) values of \(MemoryLayout<Element>.stride) bytes")
        }
        self.count = count
        pointer = raw.bindMemory(to: Element.self, capacity: max(1, count))
    }

    /// A table holding `values`.
    package convenience init(_ values: [Element]) throws {
        try self.init(uninitialized: values.count, hugePages: true)
        // A raw copy (memcpy): the generic typed update copies element by element.
        values.withUnsafeBytes {
            if let source = $0.baseAddress { UnsafeMutableRawPointer(pointer).copyMemory(from: source, byteCount: $0.count) }
        }
    }

    deinit { ld4mrk_free(pointer) }

    /// `count` rounded up to whole cache lines: the stride that keeps every row of a
    /// table of such rows aligned.
    package static func paddedCount(_ count: Int) -> Int {
        let perLine = alignment / MemoryLayout<Element>.stride
        return (count + perLine - 1) / perLine * perLine
    }
}
