import LD4MRecCore
#if canImport(Glibc)
import Glibc
#endif

/// Writes files so that readers see either the old file or the complete new one:
/// write a temporary file in the same folder, fsync it, rename it over the target,
/// fsync the folder.
package enum AtomicFile {
    /// Called after the temporary file is complete and before the rename. Tests set it to
    /// simulate a crash there; it is nil otherwise.
    nonisolated(unsafe) package static var beforeRenameHook: ((String) throws -> Void)?

    private static let counter = Counter()

    package static func write(to path: String, _ writeContents: (String) throws -> Void) throws {
        guard !path.isEmpty else { throw LD4MRecError.invalidArgument("empty file path") }
        let folder = directory(of: path)
        let temporary = "\(path).tmp-\(getpid())-\(counter.next())"
        do {
            try writeContents(temporary)
            try syncFile(temporary)
            try beforeRenameHook?(temporary)
            guard rename(temporary, path) == 0 else {
                throw LD4MRecError(.io, "cannot replace '\(path)': \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
        try? syncFile(folder)
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let folder = String(path[..<slash])
        return folder.isEmpty ? "/" : folder
    }

    private static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw LD4MRecError(.io, "cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw LD4MRecError(.io, "cannot sync '\(path)': \(String(cString: strerror(errno)))") }
    }

    private final class Counter: @unchecked Sendable {
        private let lock = ReadWriteLock()
        private var value = 0
        func next() -> Int { lock.withWriteLock { value += 1; return value } }
    }
}
