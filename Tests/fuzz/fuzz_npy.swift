// fuzz_npy.swift: libFuzzer target of the .npy reader, through the public entry point
// Dataset.load(directory:) of LD4MRecStorage. Each input becomes the feature file
// `image_feat.npy` of a dataset folder whose `.inter` file is fixed and valid (two items).
// A dataset that loads must be consistent: one modality with at least the items of the
// interactions, finite features. Any other outcome must be an LD4MRecError with a message.
#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore
import LD4MRecStorage

private let folder: String = {
    let path = fuzzFolder("npy")
    write(Array("userID\titemID\tx_label\n0\t0\t0\n0\t1\t1\n1\t1\t2\n".utf8), to: path + "/fuzz.inter")
    return path
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    write(Array(UnsafeBufferPointer(start: data, count: size)), to: folder + "/image_feat.npy")
    do {
        let dataset = try Dataset.load(directory: folder)
        precondition(dataset.modalities.count == 1 && dataset.modalities[0].name == "image")
        let features = dataset.modalities[0].features
        precondition(features.rows == dataset.itemCount && dataset.itemCount >= 2 && features.cols >= 1)
        precondition(features.values.count == features.rows * features.cols && features.values.allSatisfy(\.isFinite))
    } catch let error as LD4MRecError {
        precondition(!error.message.isEmpty)
    } catch {
        fatalError("not an LD4MRecError: \(error)")
    }
    return 0
}
