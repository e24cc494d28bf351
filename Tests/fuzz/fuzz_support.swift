// fuzz_support.swift: what the Swift fuzz targets share (compiled into each of them).
#if canImport(Glibc)
import Glibc
#endif

/// A fresh folder under $TMPDIR (or /tmp) for one fuzz process's dataset files.
func fuzzFolder(_ name: String) -> String {
    let base = (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp") + "/ld4mrec-fuzz-\(name)-XXXXXX"
    var template = Array(base.utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
}

func write(_ bytes: [UInt8], to path: String) {
    guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
    _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, bytes.count, file) }
    fclose(file)
}
