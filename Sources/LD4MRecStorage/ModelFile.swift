import LD4MRecCore

/// Model file format v1 (HDF5), as docs/FORMAT.md specifies it.
public enum ModelFile {
    public static let formatName = "ld4mrec-model"
    public static let formatVersion = 1

    // MARK: Reading

    /// Reads and validates a model file.
    public static func read(from path: String) throws -> ModelParameters {
        let parameters = try HDF5File.serialized {
            let file = try HDF5File.openForReading(path)
            return try read(file)
        }
        do {
            try parameters.validate()
        } catch let error as LD4MRecError where error.code == .invalidArgument {
            throw LD4MRecError.invalidFile("'\(path)': \(error.message)")
        }
        return parameters
    }

    private static func read(_ file: HDF5File) throws -> ModelParameters {
        func fail(_ message: String) -> LD4MRecError { .invalidFile("'\(file.path)': \(message)") }

        try file.requireFormat(formatName, version: formatVersion, kind: "model")
        let h = try readHyperparameters(file, fail)
        let modalityCount = try integer(file, "/", "n_modalities", fail, range: 0...64)

        let itemIDs = try file.readInt64s(TableName.itemIDs, rank: 1).values
        let userIDs = try file.readInt64s(TableName.userIDs, rank: 1).values
        let svdItemFactors = try matrix(file, TableName.svdItemFactors)
        let singularValues = try file.readFloats(TableName.svdSingularValues, rank: 1).values
        let degrees = try file.readInt64s(TableName.itemDegrees, rank: 1).values

        var modalities: [Modality] = []
        for m in 0 ..< modalityCount {
            guard let name = try file.readString(TableName.modality(m), "name") else {
                throw fail("'\(TableName.modality(m))' has no 'name' attribute")
            }
            modalities.append(Modality(name: name, features: try matrix(file, TableName.features(m))))
        }

        let input = try dense(file, TableName.input)
        var blocks: [CNetBlock] = []
        for s in 0 ..< h.blocks {
            blocks.append(CNetBlock(
                hidden: try dense(file, TableName.cgHidden(s)),
                condition: try dense(file, TableName.cgCondition(s)),
                gate: try dense(file, TableName.cgGate(s)),
                filmScale: try (0 ..< modalityCount).map { try film(file, TableName.filmScale(s, $0)) },
                filmShift: try (0 ..< modalityCount).map { try film(file, TableName.filmShift(s, $0)) }))
        }
        let output = try dense(file, TableName.output)
        let zIn = try matrix(file, TableName.zIn)
        let zInDefault = try file.readFloats(TableName.zInDefault, rank: 1).values

        var histories: CSRHistories?
        if file.exists(TableName.historyOffsets) || file.exists(TableName.historyItems) {
            let offsets = try file.readInt64s(TableName.historyOffsets, rank: 1).values
            let items = try file.readInt64s(TableName.historyItems, rank: 1).values
            // Checked before the conversion to row indices.
            do {
                try CSRHistories.validate(offsets: offsets, entries: items, rows: nil, itemCount: min(itemIDs.count, Int(Int32.max)),
                                          offsetsName: TableName.historyOffsets, entriesName: TableName.historyItems)
            } catch let error as LD4MRecError {
                throw fail(error.message)
            }
            histories = CSRHistories(offsets: offsets.map { Int($0) }, items: items.map { Int32($0) })
        }

        var parameters = ModelParameters(
            hyperparameters: h, itemIDs: itemIDs, userIDs: userIDs, svdItemFactors: svdItemFactors,
            svdSingularValues: singularValues, itemDegrees: degrees, modalities: modalities, input: input,
            blocks: blocks, output: output, zIn: zIn, zInDefault: zInDefault, histories: histories)
        // Optional: the item-item prior and the mixture (absent in files without it).
        if file.exists(TableName.itemItem) { parameters.itemItem = try matrix(file, TableName.itemItem) }
        if file.exists(TableName.itemItemSparse) {
            let group = TableName.itemItemSparse
            let offsets = try file.readInt64s(group + "/offsets", rank: 1).values
            let columns = try file.readInt64s(group + "/columns", rank: 1).values
            do {  // checked before the conversions to Int and Int32
                try CSRHistories.validate(offsets: offsets, entries: columns, rows: itemIDs.count,
                                          itemCount: min(itemIDs.count, Int(Int32.max)),
                                          offsetsName: group + "/offsets", entriesName: group + "/columns")
            } catch let error as LD4MRecError {
                throw fail(error.message)
            }
            parameters.itemItemSparse = SparseRows(cols: itemIDs.count, offsets: offsets.map { Int($0) },
                                                   columns: columns.map { Int32($0) },
                                                   values: try file.readFloats(group + "/values", rank: 1).values)
        }
        for (name, scale) in [("score_scale_cnet", \ModelParameters.cnetScale), ("score_scale_item_item", \.itemItemScale)] {
            if let value = try file.readNumber("/", name) { parameters[keyPath: scale] = Float(value) }
        }
        return parameters
    }

    private static func matrix(_ file: HDF5File, _ name: String) throws -> Matrix {
        let (shape, values) = try file.readFloats(name, rank: 2)
        return Matrix(unchecked: shape[0], shape[1], values)  // values has shape[0] * shape[1] entries
    }

    private static func dense(_ file: HDF5File, _ group: String) throws -> DenseLayer {
        DenseLayer(weight: try matrix(file, group + "/weight"), bias: try file.readFloats(group + "/bias", rank: 1).values)
    }

    private static func film(_ file: HDF5File, _ group: String) throws -> FiLMNetwork {
        FiLMNetwork(fc1: try dense(file, group + "/fc1"), fc2: try dense(file, group + "/fc2"))
    }

    private static func integer(_ file: HDF5File, _ object: String, _ name: String,
                                _ fail: (String) -> LD4MRecError, range: ClosedRange<Int>) throws -> Int {
        guard let value = try file.readInteger(object, name) else { throw fail("no '\(name)' attribute") }
        guard value >= Int64(range.lowerBound), value <= Int64(range.upperBound) else {
            throw fail("attribute '\(name)' must be an integer in \(range), got \(value)")
        }
        return Int(value)
    }

    /// The hyperparameters, as `Hyperparameters.fields` describes them: architecture
    /// fields are required and checked; training fields take their default when absent.
    private static func readHyperparameters(_ file: HDF5File, _ fail: (String) -> LD4MRecError) throws -> Hyperparameters {
        guard let activation = try file.readString("/", "activation") else { throw fail("no 'activation' attribute") }
        guard activation == "tanh" else { throw fail("activation '\(activation)' is not supported (only 'tanh')") }
        var h = Hyperparameters()
        for field in Hyperparameters.fields {
            var value = try read(field, file)
            if value == nil {
                guard field.role == .training else { throw fail("no '\(field.name)' attribute") }
                value = field.isOptional ? nil : field.whenAbsent
            }
            if case .integer(let x) = value, let range = field.fileRange, !(Int64(range.lowerBound) ... Int64(range.upperBound)).contains(x) {
                throw fail("attribute '\(field.name)' must be an integer in \(range), got \(x)")
            }
            do {
                try field.assign(value, to: &h)
                if field.role == .architecture { try field.validate(h) }
            } catch let error as LD4MRecError {
                throw fail("attribute \(error.message)")
            }
        }
        return h
    }

    private static func read(_ field: HyperparameterField, _ file: HDF5File) throws -> HyperparameterValue? {
        switch field.kind {
        case .integer, .flag, .seed: return try file.readInteger("/", field.name).map { .integer($0) }
        case .real: return try file.readNumber("/", field.name).map { .real($0) }
        case .choice: return try file.readString("/", field.name).map { .text($0) }
        }
    }

    // MARK: Writing

    /// Validates and writes a model file atomically (temporary file, fsync, rename).
    public static func write(_ parameters: ModelParameters, to path: String) throws {
        try parameters.validate()
        try AtomicFile.write(to: path) { temporary in
            try HDF5File.serialized {
                let file = try HDF5File.create(temporary)
                try write(parameters, file)
                try file.close()
            }
        }
    }

    private static func write(_ p: ModelParameters, _ file: HDF5File) throws {
        try file.writeString("/", "format", formatName)
        try file.writeInteger("/", "format_version", Int64(formatVersion))
        try file.writeString("/", "activation", "tanh")
        try file.writeInteger("/", "n_modalities", Int64(p.modalities.count))
        for field in Hyperparameters.fields {
            switch field.value(in: p.hyperparameters) {
            case .integer(let value): try file.writeInteger("/", field.name, value)
            case .real(let value): try file.writeDouble("/", field.name, value)
            case .text(let value): try file.writeString("/", field.name, value)
            case nil: break  // an optional field without a value
            }
        }
        try file.writeDouble("/", "score_scale_cnet", Double(p.cnetScale))
        try file.writeDouble("/", "score_scale_item_item", Double(p.itemItemScale))

        try file.writeInt64s(TableName.itemIDs, shape: [p.itemCount], p.itemIDs)
        try file.writeInt64s(TableName.userIDs, shape: [p.userCount], p.userIDs)
        try writeMatrix(file, TableName.svdItemFactors, p.svdItemFactors)
        try file.writeFloats(TableName.svdSingularValues, shape: [p.svdSingularValues.count], p.svdSingularValues)
        try file.writeInt64s(TableName.itemDegrees, shape: [p.itemDegrees.count], p.itemDegrees)
        for (m, modality) in p.modalities.enumerated() {
            try file.createGroup(TableName.modality(m))
            try file.writeString(TableName.modality(m), "name", modality.name)
            try writeMatrix(file, TableName.features(m), modality.features)
        }
        try writeDense(file, TableName.input, p.input)
        for (s, block) in p.blocks.enumerated() {
            try writeDense(file, TableName.cgHidden(s), block.hidden)
            try writeDense(file, TableName.cgCondition(s), block.condition)
            try writeDense(file, TableName.cgGate(s), block.gate)
            for m in 0 ..< p.modalities.count {
                try writeFiLM(file, TableName.filmScale(s, m), block.filmScale[m])
                try writeFiLM(file, TableName.filmShift(s, m), block.filmShift[m])
            }
        }
        try writeDense(file, TableName.output, p.output)
        try writeMatrix(file, TableName.zIn, p.zIn)
        try file.writeFloats(TableName.zInDefault, shape: [p.zInDefault.count], p.zInDefault)
        if let itemItem = p.itemItem { try writeMatrix(file, TableName.itemItem, itemItem) }
        if let sparse = p.itemItemSparse {
            let group = TableName.itemItemSparse
            try file.writeInt64s(group + "/offsets", shape: [sparse.offsets.count], sparse.offsets.map { Int64($0) })
            try file.writeInt64s(group + "/columns", shape: [sparse.entries], sparse.columns.map { Int64($0) })
            try file.writeFloats(group + "/values", shape: [sparse.entries], sparse.values)
        }
        if let histories = p.histories {
            try file.writeInt64s(TableName.historyOffsets, shape: [histories.offsets.count], histories.offsets.map { Int64($0) })
            try file.writeInt64s(TableName.historyItems, shape: [histories.items.count], histories.items.map { Int64($0) })
        }
    }

    private static func writeMatrix(_ file: HDF5File, _ name: String, _ matrix: Matrix) throws {
        try file.writeFloats(name, shape: [matrix.rows, matrix.cols], matrix.values)
    }

    private static func writeDense(_ file: HDF5File, _ group: String, _ layer: DenseLayer) throws {
        try writeMatrix(file, group + "/weight", layer.weight)
        try file.writeFloats(group + "/bias", shape: [layer.bias.count], layer.bias)
    }

    private static func writeFiLM(_ file: HDF5File, _ group: String, _ network: FiLMNetwork) throws {
        try writeDense(file, group + "/fc1", network.fc1)
        try writeDense(file, group + "/fc2", network.fc2)
    }
}
