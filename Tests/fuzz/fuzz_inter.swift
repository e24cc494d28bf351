// fuzz_inter.swift: libFuzzer target of the `.inter` reader (MMRec interactions), through
// the public entry point Dataset.load(directory:modalityNames:) of LD4MRecStorage, with no
// modality. Each input becomes `fuzz.inter` of a dataset folder. A dataset that loads
// must be consistent: every split's rows are users, its entries items, ascending; any
// other outcome must be an LD4MRecError with a message.
#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore
import LD4MRecStorage

private let folder = fuzzFolder("inter")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    write(Array(UnsafeBufferPointer(start: data, count: size)), to: folder + "/fuzz.inter")
    do {
        let dataset = try Dataset.load(directory: folder, modalityNames: [])
        precondition(dataset.userCount >= 1 && dataset.itemCount >= 1 && dataset.modalities.isEmpty)
        for split in [dataset.train, dataset.validation, dataset.test] {
            precondition(split.rowCount == dataset.userCount)
            for u in 0 ..< split.rowCount {
                let row = split.row(u)
                precondition(row.allSatisfy { $0 >= 0 && Int($0) < dataset.itemCount })
                precondition(zip(row, row.dropFirst()).allSatisfy { $0 < $1 })
            }
        }
    } catch let error as LD4MRecError {
        precondition(!error.message.isEmpty)
    } catch {
        fatalError("not an LD4MRecError: \(error)")
    }
    return 0
}
