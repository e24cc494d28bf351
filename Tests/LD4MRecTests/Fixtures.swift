import Testing
@testable import LD4MRecCore
@testable import LD4MRecServing
#if canImport(Glibc)
import Glibc
#endif

/// A fresh temporary folder per test.
func temporaryDirectory() -> String {
    var template = Array("/tmp/ld4mrec-tests-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
}

func smallSpec(seed: UInt64 = 3, modalities: [(String, Int)] = [("image", 6), ("audio", 4)], blocks: Int = 2) -> SyntheticModelSpec {
    var spec = SyntheticModelSpec()
    spec.items = 40
    spec.users = 12
    spec.seed = seed
    spec.modalities = modalities.map { (name: $0.0, dimension: $0.1) }
    spec.hyperparameters.hiddenSize = 12
    spec.hyperparameters.svdRank = 3
    spec.hyperparameters.stepEmbeddingSize = 4
    spec.hyperparameters.filmHiddenSize = 5
    spec.hyperparameters.blocks = blocks
    return spec
}

func smallModel(seed: UInt64 = 3) throws -> Model {
    try Model(try ModelParameters.synthetic(smallSpec(seed: seed)))
}

func writeBytes(_ bytes: [UInt8], to path: String) {
    let file = fopen(path, "wb")!
    _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, bytes.count, file) }
    fclose(file)
}

func readBytes(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "rb") else { return [] }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n == 0 { break }
        bytes += buffer[0 ..< n]
    }
    return bytes
}

func expectError(_ code: LD4MRecError.Code, containing text: String, _ body: () throws -> Void,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected \(code) error", sourceLocation: sourceLocation)
    } catch let error as LD4MRecError {
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        #expect(error.message.contains(text), "message: \(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}
