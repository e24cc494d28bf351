import Foundation
import Testing
@testable import LD4MRecCore
@testable import LD4MRecStorage

@Suite struct ModelFileTests {
    @Test func roundTripKeepsEveryTable() throws {
        let dir = temporaryDirectory()
        var parameters = try ModelParameters.synthetic(smallSpec())
        parameters.hyperparameters.seed = UInt64.max - 3  // seeds use all 64 bits
        parameters.hyperparameters.loss = .multinomial
        try ModelFile.write(parameters, to: dir + "/m.h5")
        #expect(try ModelFile.read(from: dir + "/m.h5") == parameters)
    }

    /// The same model makes the same file, byte for byte, whenever it is written (HDF5
    /// would otherwise stamp each object with the second it was created).
    @Test func theSameModelWritesTheSameBytes() throws {
        let dir = temporaryDirectory()
        let parameters = try ModelParameters.synthetic(smallSpec())
        try ModelFile.write(parameters, to: dir + "/first.h5")
        Thread.sleep(forTimeInterval: 1.1)
        try ModelFile.write(parameters, to: dir + "/second.h5")
        let (first, second) = (try Data(contentsOf: URL(fileURLWithPath: dir + "/first.h5")),
                               try Data(contentsOf: URL(fileURLWithPath: dir + "/second.h5")))
        #expect(!first.isEmpty && first == second)
    }

    @Test func roundTripWithASparsePrior() throws {
        let dir = temporaryDirectory()
        var spec = smallSpec()
        spec.sparsePrior = true
        let parameters = try ModelParameters.synthetic(spec)
        #expect(parameters.itemItemSparse != nil && parameters.itemItem == nil)
        try ModelFile.write(parameters, to: dir + "/m.h5")
        #expect(try ModelFile.read(from: dir + "/m.h5") == parameters)

        var p = parameters
        p.itemItemSparse!.columns[0] = 40
        expectError(.invalidArgument, containing: "'/signals/item_item_sparse/columns' holds an item index outside") { try p.validate() }
        p = parameters
        p.itemItemSparse!.values.removeLast()
        expectError(.invalidArgument, containing: "'/signals/item_item_sparse/values' has length") { try p.validate() }
        p = parameters
        p.itemItem = Matrix(zeros: 40, 40)
        expectError(.invalidArgument, containing: "not both") { try p.validate() }
    }

    @Test func roundTripWithoutModalitiesOrHistories() throws {
        let dir = temporaryDirectory()
        var parameters = try ModelParameters.synthetic(smallSpec(modalities: []))
        parameters.histories = nil
        try ModelFile.write(parameters, to: dir + "/m.h5")
        let read = try ModelFile.read(from: dir + "/m.h5")
        #expect(read == parameters)
        #expect(read.histories == nil)
    }

    @Test func missingEmptyAndForeignFiles() throws {
        let dir = temporaryDirectory()
        expectError(.io, containing: "No such file") { _ = try ModelFile.read(from: dir + "/absent.h5") }
        writeBytes([], to: dir + "/empty.h5")
        expectError(.invalidFile, containing: "not an HDF5 file") { _ = try ModelFile.read(from: dir + "/empty.h5") }
        var rng = SeededGenerator(seed: 1)
        writeBytes((0 ..< 4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, to: dir + "/noise.h5")
        expectError(.invalidFile, containing: "not an HDF5 file") { _ = try ModelFile.read(from: dir + "/noise.h5") }
        expectError(.io, containing: "not a regular file") { _ = try ModelFile.read(from: dir) }
    }

    @Test func truncatedFilesAreRefusedWithoutCrashing() throws {
        let dir = temporaryDirectory()
        try ModelFile.write(try ModelParameters.synthetic(smallSpec()), to: dir + "/m.h5")
        let bytes = readBytes(dir + "/m.h5")
        for fraction in [0.001, 0.1, 0.5, 0.9, 0.999] {
            writeBytes(Array(bytes.prefix(Int(Double(bytes.count) * fraction))), to: dir + "/t.h5")
            #expect(throws: LD4MRecError.self) { _ = try ModelFile.read(from: dir + "/t.h5") }
        }
    }

    @Test func validationNamesTheDataset() throws {
        let good = try ModelParameters.synthetic(smallSpec())
        var p = good
        p.output.weight = Matrix(zeros: 40, 11)
        expectError(.invalidArgument, containing: "'/cnet/output/weight' has shape (40, 11), expected (40, 12)") { try p.validate() }
        p = good
        p.blocks[1].gate.bias[2] = .nan
        expectError(.invalidArgument, containing: "'/cnet/blocks/1/cg/gate/bias': value nan") { try p.validate() }
        p = good
        p.itemIDs[5] = p.itemIDs[9]
        expectError(.invalidArgument, containing: "'/ids/items' holds id \(good.itemIDs[9]) more than once") { try p.validate() }
        p = good
        p.svdSingularValues[0] = 0
        expectError(.invalidArgument, containing: "must be positive") { try p.validate() }
        p = good
        p.histories!.items[0] = 40
        expectError(.invalidArgument, containing: "'/histories/items' holds an item index outside") { try p.validate() }
        p = good
        p.modalities[1].name = "image"
        expectError(.invalidArgument, containing: "distinct") { try p.validate() }
        p = good
        p.blocks[0].filmShift.removeLast()
        expectError(.invalidArgument, containing: "one scale and one shift network per modality") { try p.validate() }
    }

    @Test func invalidParametersAreNotWritten() throws {
        let dir = temporaryDirectory()
        var p = try ModelParameters.synthetic(smallSpec())
        p.zInDefault = [1, 2]
        expectError(.invalidArgument, containing: "'/users/z_in_default' has length 2, expected 4") {
            try ModelFile.write(p, to: dir + "/m.h5")
        }
        expectError(.io, containing: "No such file") { _ = try ModelFile.read(from: dir + "/m.h5") }
    }
}
