/// Model file format v1 (HDF5), as docs/FORMAT.md specifies it.
public enum ModelFile {
    public static let formatName = "ld4mrec-model"
    public static let formatVersion = 1

    /// Dataset and group paths, shared by reader, writer and validation messages.
    enum Path {
        static let itemIDs = "/ids/items"
        static let userIDs = "/ids/users"
        static let svdItemFactors = "/signals/svd_item_factors"
        static let svdSingularValues = "/signals/svd_singular_values"
        static let itemDegrees = "/signals/item_degrees"
        static func modality(_ m: Int) -> String { "/modalities/\(m)" }
        static func features(_ m: Int) -> String { "/modalities/\(m)/features" }
        static let input = "/cnet/input"
        static let output = "/cnet/output"
        static func block(_ s: Int) -> String { "/cnet/blocks/\(s)" }
        static func cgHidden(_ s: Int) -> String { "\(block(s))/cg/hidden" }
        static func cgCondition(_ s: Int) -> String { "\(block(s))/cg/condition" }
        static func cgGate(_ s: Int) -> String { "\(block(s))/cg/gate" }
        static func filmScale(_ s: Int, _ m: Int) -> String { "\(block(s))/film/\(m)/scale" }
        static func filmShift(_ s: Int, _ m: Int) -> String { "\(block(s))/film/\(m)/shift" }
        static let zIn = "/users/z_in"
        static let zInDefault = "/users/z_in_default"
        static let itemItem = "/signals/item_item"
        static let historyOffsets = "/histories/offsets"
        static let historyItems = "/histories/items"
    }

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

        let itemIDs = try file.readInt64s(Path.itemIDs, rank: 1).values
        let userIDs = try file.readInt64s(Path.userIDs, rank: 1).values
        let svdItemFactors = try matrix(file, Path.svdItemFactors)
        let singularValues = try file.readFloats(Path.svdSingularValues, rank: 1).values
        let degrees = try file.readInt64s(Path.itemDegrees, rank: 1).values

        var modalities: [Modality] = []
        for m in 0 ..< modalityCount {
            guard let name = try file.readString(Path.modality(m), "name") else {
                throw fail("'\(Path.modality(m))' has no 'name' attribute")
            }
            modalities.append(Modality(name: name, features: try matrix(file, Path.features(m))))
        }

        let input = try dense(file, Path.input)
        var blocks: [CNetBlock] = []
        for s in 0 ..< h.blocks {
            blocks.append(CNetBlock(
                hidden: try dense(file, Path.cgHidden(s)),
                condition: try dense(file, Path.cgCondition(s)),
                gate: try dense(file, Path.cgGate(s)),
                filmScale: try (0 ..< modalityCount).map { try film(file, Path.filmScale(s, $0)) },
                filmShift: try (0 ..< modalityCount).map { try film(file, Path.filmShift(s, $0)) }))
        }
        let output = try dense(file, Path.output)
        let zIn = try matrix(file, Path.zIn)
        let zInDefault = try file.readFloats(Path.zInDefault, rank: 1).values

        var histories: CSRHistories?
        if file.exists(Path.historyOffsets) || file.exists(Path.historyItems) {
            let offsets = try file.readInt64s(Path.historyOffsets, rank: 1).values
            let items = try file.readInt64s(Path.historyItems, rank: 1).values
            guard let first = offsets.first, first == 0, let last = offsets.last, last == Int64(items.count),
                  zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw fail("'\(Path.historyOffsets)' must start at 0, never decrease and end at the length of '\(Path.historyItems)'")
            }
            guard items.allSatisfy({ $0 >= 0 && $0 < Int64(itemIDs.count) }) else {
                throw fail("'\(Path.historyItems)' holds an item index outside 0..<\(itemIDs.count)")
            }
            histories = CSRHistories(offsets: offsets.map { Int($0) }, items: items.map { Int32($0) })
        }

        var parameters = ModelParameters(
            hyperparameters: h, itemIDs: itemIDs, userIDs: userIDs, svdItemFactors: svdItemFactors,
            svdSingularValues: singularValues, itemDegrees: degrees, modalities: modalities, input: input,
            blocks: blocks, output: output, zIn: zIn, zInDefault: zInDefault, histories: histories)
        // Optional: the item-item prior and the mixture (absent in files without it).
        if file.exists(Path.itemItem) { parameters.itemItem = try matrix(file, Path.itemItem) }
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

    private static func readHyperparameters(_ file: HDF5File, _ fail: (String) -> LD4MRecError) throws -> Hyperparameters {
        var h = Hyperparameters()
        let big = 1 ... (1 << 20)
        // Architecture: required.
        h.hiddenSize = try integer(file, "/", "hidden_size", fail, range: big)
        h.svdRank = try integer(file, "/", "svd_rank", fail, range: big)
        h.stepEmbeddingSize = try integer(file, "/", "step_embedding_size", fail, range: big)
        h.blocks = try integer(file, "/", "n_blocks", fail, range: 1 ... 64)
        h.filmHiddenSize = try integer(file, "/", "film_hidden_size", fail, range: big)
        guard let activation = try file.readString("/", "activation") else { throw fail("no 'activation' attribute") }
        guard activation == "tanh" else { throw fail("activation '\(activation)' is not supported (only 'tanh')") }
        guard let slope = try file.readNumber("/", "leaky_relu_slope") else { throw fail("no 'leaky_relu_slope' attribute") }
        h.leakyReluSlope = slope
        try h.validateArchitecture(fail)

        // Diffusion and training: recorded when the trainer knows them, else defaults.
        func optionalInteger(_ name: String, _ value: inout Int, _ range: ClosedRange<Int>) throws {
            if try file.readInteger("/", name) != nil { value = try integer(file, "/", name, fail, range: range) }
        }
        func optionalNumber(_ name: String, _ value: inout Double) throws {
            if let number = try file.readNumber("/", name) {
                guard number.isFinite else { throw fail("attribute '\(name)' must be finite") }
                value = number
            }
        }
        func optionalChoice<T: RawRepresentable & CaseIterable>(_ name: String, _ value: inout T) throws where T.RawValue == String {
            if let text = try file.readString("/", name) {
                guard let choice = T(rawValue: text) else {
                    throw fail("attribute '\(name)' is '\(text)', expected one of \(T.allCases.map(\.rawValue))")
                }
                value = choice
            }
        }
        try optionalInteger("n_steps", &h.steps, 1 ... 100_000)
        try optionalNumber("noise_scale", &h.noiseScale)
        try optionalNumber("noise_min", &h.noiseMin)
        try optionalNumber("soft_target_probability", &h.softTargetProbability)
        try optionalNumber("soft_target_gamma", &h.softTargetGamma)
        try optionalChoice("step_sampler", &h.stepSampler)
        try optionalChoice("loss", &h.loss)
        try optionalNumber("learning_rate", &h.learningRate)
        try optionalInteger("batch_size", &h.batchSize, big)
        try optionalInteger("max_epochs", &h.maxEpochs, 0 ... (1 << 30))
        try optionalInteger("patience", &h.patience, 0 ... (1 << 30))
        try optionalNumber("input_dropout", &h.inputDropout)
        var fromDropped = h.conditionsFromDroppedHistory ? 1 : 0
        try optionalInteger("conditions_from_dropped_history", &fromDropped, 0 ... 1)
        h.conditionsFromDroppedHistory = fromDropped == 1
        try optionalNumber("weight_decay", &h.weightDecay)
        try optionalInteger("svd_oversamples", &h.svdOversamples, 0 ... (1 << 30))
        try optionalInteger("svd_power_iterations", &h.svdPowerIterations, 0 ... 1000)
        try optionalChoice("feature_standardization", &h.featureStandardization)
        h.itemItemPrior = .none  // files from before the prior existed have none
        try optionalChoice("item_item_prior", &h.itemItemPrior)
        try optionalNumber("ease_lambda", &h.easeLambda)
        if let weight = try file.readNumber("/", "ensemble_weight") { h.ensembleWeight = weight }
        // Seeds are 64-bit unsigned, stored in an int64 attribute with the same bits.
        if let seed = try file.readInteger("/", "seed") { h.seed = UInt64(bitPattern: seed) }
        return h
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
        let h = p.hyperparameters
        try file.writeString("/", "format", formatName)
        try file.writeInteger("/", "format_version", Int64(formatVersion))
        for (name, value) in [("hidden_size", h.hiddenSize), ("svd_rank", h.svdRank),
                              ("step_embedding_size", h.stepEmbeddingSize), ("n_blocks", h.blocks),
                              ("film_hidden_size", h.filmHiddenSize), ("n_modalities", p.modalities.count),
                              ("n_steps", h.steps), ("batch_size", h.batchSize), ("max_epochs", h.maxEpochs),
                              ("patience", h.patience), ("svd_oversamples", h.svdOversamples),
                              ("svd_power_iterations", h.svdPowerIterations),
                              ("conditions_from_dropped_history", h.conditionsFromDroppedHistory ? 1 : 0)] {
            try file.writeInteger("/", name, Int64(value))
        }
        try file.writeInteger("/", "seed", Int64(bitPattern: h.seed))
        for (name, value) in [("leaky_relu_slope", h.leakyReluSlope), ("noise_scale", h.noiseScale),
                              ("noise_min", h.noiseMin), ("soft_target_probability", h.softTargetProbability),
                              ("soft_target_gamma", h.softTargetGamma), ("learning_rate", h.learningRate),
                              ("input_dropout", h.inputDropout), ("weight_decay", h.weightDecay)] {
            try file.writeDouble("/", name, value)
        }
        try file.writeDouble("/", "ease_lambda", h.easeLambda)
        if let weight = h.ensembleWeight { try file.writeDouble("/", "ensemble_weight", weight) }
        try file.writeDouble("/", "score_scale_cnet", Double(p.cnetScale))
        try file.writeDouble("/", "score_scale_item_item", Double(p.itemItemScale))
        for (name, value) in [("activation", "tanh"), ("step_sampler", h.stepSampler.rawValue),
                              ("item_item_prior", h.itemItemPrior.rawValue),
                              ("loss", h.loss.rawValue), ("feature_standardization", h.featureStandardization.rawValue)] {
            try file.writeString("/", name, value)
        }

        try file.writeInt64s(Path.itemIDs, shape: [p.itemCount], p.itemIDs)
        try file.writeInt64s(Path.userIDs, shape: [p.userCount], p.userIDs)
        try writeMatrix(file, Path.svdItemFactors, p.svdItemFactors)
        try file.writeFloats(Path.svdSingularValues, shape: [p.svdSingularValues.count], p.svdSingularValues)
        try file.writeInt64s(Path.itemDegrees, shape: [p.itemDegrees.count], p.itemDegrees)
        for (m, modality) in p.modalities.enumerated() {
            try file.createGroup(Path.modality(m))
            try file.writeString(Path.modality(m), "name", modality.name)
            try writeMatrix(file, Path.features(m), modality.features)
        }
        try writeDense(file, Path.input, p.input)
        for (s, block) in p.blocks.enumerated() {
            try writeDense(file, Path.cgHidden(s), block.hidden)
            try writeDense(file, Path.cgCondition(s), block.condition)
            try writeDense(file, Path.cgGate(s), block.gate)
            for m in 0 ..< p.modalities.count {
                try writeFiLM(file, Path.filmScale(s, m), block.filmScale[m])
                try writeFiLM(file, Path.filmShift(s, m), block.filmShift[m])
            }
        }
        try writeDense(file, Path.output, p.output)
        try writeMatrix(file, Path.zIn, p.zIn)
        try file.writeFloats(Path.zInDefault, shape: [p.zInDefault.count], p.zInDefault)
        if let itemItem = p.itemItem { try writeMatrix(file, Path.itemItem, itemItem) }
        if let histories = p.histories {
            try file.writeInt64s(Path.historyOffsets, shape: [histories.offsets.count], histories.offsets.map { Int64($0) })
            try file.writeInt64s(Path.historyItems, shape: [histories.items.count], histories.items.map { Int64($0) })
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
