#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore

// Plain files and folders: every read and write of the library outside HDF5.

/// Whole-file reads and atomic whole-file writes.
package enum FileBytes {
    package static func read(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else {
            throw LD4MRecError(.io, "cannot open '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n > 0 { bytes.append(contentsOf: buffer[0 ..< n]) }
            if n < buffer.count {
                guard ferror(file) == 0 else { throw LD4MRecError(.io, "cannot read '\(path)'") }
                break
            }
        }
        return bytes
    }

    package static func write(_ bytes: [UInt8], to path: String) throws {
        try AtomicFile.write(to: path) { temporary in
            guard let file = fopen(temporary, "wb") else {
                throw LD4MRecError(.io, "cannot create '\(temporary)': \(String(cString: strerror(errno)))")
            }
            let written = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, bytes.count, file) }
            guard fclose(file) == 0, written == bytes.count else { throw LD4MRecError(.io, "cannot write '\(temporary)'") }
        }
    }
}

/// The names in a folder, sorted, without `.` and `..`.
package func listDirectory(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else {
        throw LD4MRecError(.io, "cannot open folder '\(path)': \(String(cString: strerror(errno)))")
    }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// Creates a folder and its missing parents, like `mkdir -p`.
public func createDirectories(_ path: String) throws {
    var prefix = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        prefix += "/" + component
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            throw LD4MRecError(.io, "cannot create '\(prefix)': \(String(cString: strerror(errno)))")
        }
    }
}

/// A text file that lines are appended to and flushed at once, so that a reader (or a
/// crash) sees every line written so far: training logs.
public final class LineLog {
    private let file: UnsafeMutablePointer<FILE>
    public let path: String

    public init(appendingTo path: String) throws {
        guard let file = fopen(path, "a") else {
            throw LD4MRecError(.io, "cannot open '\(path)' for appending: \(String(cString: strerror(errno)))")
        }
        self.file = file
        self.path = path
    }

    deinit { fclose(file) }

    public func append(_ line: String) {
        fputs(line + "\n", file)
        fflush(file)
    }
}
