import Testing
@testable import LD4MRecCore
@testable import LD4MRecStorage
#if canImport(Glibc)
import Glibc
#endif

/// The inputs of Tests/fuzz/regressions that broke the dataset readers (fuzz_inter,
/// fuzz_npy), replayed through the same entry point as the fuzz targets: each must now be
/// refused with an error that says why. (The C targets' regressions are replayed by
/// Tests/abi/run.sh.)
@Suite struct FuzzRegressionTests {
    /// Tests/fuzz/regressions/<target>, from this file's place in the repository.
    static func regressions(_ target: String) -> String {
        let parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        return parts.dropLast(3).joined(separator: "/") + "/Tests/fuzz/regressions/" + target
    }

    /// What each input must fail with: fuzz_inter found that a large user id made
    /// Dataset.load allocate a row per id up to it (2^31 users: out of memory), and a large
    /// item id without a feature file an item count as large.
    static let interExpectations = [
        "sparse-user-ids.inter": "user ids must be dense from 0",
        "sparse-item-ids.inter": "item ids must be dense from 0",
    ]

    @Test func interRegressionsAreRefused() throws {
        let folder = Self.regressions("fuzz_inter")
        let names = try listDirectory(folder)
        #expect(Set(names) == Set(Self.interExpectations.keys), "every regression input has an expectation")
        for name in names {
            let dataset = temporaryDirectory()
            writeBytes(readBytes("\(folder)/\(name)"), to: "\(dataset)/fuzz.inter")
            expectError(.invalidFile, containing: Self.interExpectations[name] ?? "?") {
                _ = try Dataset.load(directory: dataset, modalityNames: [])
            }
        }
    }

    /// The bound is on stray ids, not on items without interactions: a catalogue without
    /// features whose item 1 has none still loads, with the items up to the largest id.
    @Test func itemsWithoutInteractionsAreNotStrayIds() throws {
        let dataset = temporaryDirectory()
        let lines = ["userID\titemID\tx_label", "0\t0\t0", "0\t2\t1", "1\t3\t0", "1\t0\t2", "1\t2\t1"]
        writeBytes(Array((lines.joined(separator: "\n") + "\n").utf8), to: "\(dataset)/gaps.inter")
        let loaded = try Dataset.load(directory: dataset, modalityNames: [])
        #expect(loaded.itemCount == 4 && loaded.userCount == 2)
        #expect(Array(loaded.train.row(1)) == [3])
    }
}
