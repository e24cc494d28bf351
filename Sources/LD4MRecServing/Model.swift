import LD4MRecCore
import LD4MRecStorage

/// The items a model scores and the map from external ids to rows.
public final class ItemCatalogue: Sendable {
    public let ids: [Int64]
    private let rowOf: RowIndex

    init(ids: [Int64]) {
        self.ids = ids
        rowOf = RowIndex(ids)
    }

    public var count: Int { ids.count }

    public func row(of id: Int64) -> Int32? { rowOf.row(of: id) }

    /// Known rows of `ids`, sorted and without duplicates, and how many ids were unknown.
    func resolveSet(_ ids: some Sequence<Int64>) -> (rows: [Int32], unknown: Int) {
        var rows: [Int32] = []
        rows.reserveCapacity(ids.underestimatedCount)
        var unknown = 0
        for id in ids {
            if let row = rowOf.row(of: id) { rows.append(row) } else { unknown += 1 }
        }
        rows.sort()
        return (rows.uniqued(), unknown)
    }

    /// How many of `ids` the catalogue does not know.
    func unknownCount(_ ids: some Sequence<Int64>) -> Int {
        ids.reduce(0) { rowOf.row(of: $1) == nil ? $0 + 1 : $0 }
    }
}

/// Rows of ids: open addressing with linear probing and a multiplicative hash, the last
/// row of a repeated id winning. Resolving a batch's histories looks up tens of thousands
/// of ids per call, serially; Dictionary's seeded hash of each Int64 took most of it.
private struct RowIndex: Sendable {
    private let keys: [Int64]
    /// -1: an empty slot.
    private let rows: [Int32]
    private let shift: Int

    init(_ ids: [Int64]) {
        var capacity = 16
        while capacity * 3 < ids.count * 4 { capacity *= 2 }  // at most 3/4 full
        shift = 64 - capacity.trailingZeroBitCount
        var keys = [Int64](repeating: 0, count: capacity)
        var rows = [Int32](repeating: -1, count: capacity)
        for (row, id) in ids.enumerated() {
            var slot = Self.slot(of: id, shift)
            while rows[slot] >= 0, keys[slot] != id { slot = (slot + 1) & (capacity - 1) }
            (keys[slot], rows[slot]) = (id, Int32(row))
        }
        (self.keys, self.rows) = (keys, rows)
    }

    @inline(__always)
    private static func slot(of id: Int64, _ shift: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(bitPattern: id) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    func row(of id: Int64) -> Int32? {
        let mask = rows.count - 1
        var slot = Self.slot(of: id, shift)
        while true {
            let row = rows[slot]
            if row < 0 { return nil }
            if keys[slot] == id { return row }
            slot = (slot + 1) & mask
        }
    }
}

extension Array where Element: Equatable {
    /// Drops adjacent repeats (on a sorted array: all repeats).
    func uniqued() -> [Element] {
        var result: [Element] = []
        result.reserveCapacity(count)
        for element in self where result.last != element { result.append(element) }
        return result
    }
}

extension Array where Element: Comparable {
    /// The union of two ascending, duplicate-free arrays, ascending and duplicate-free
    /// (either array itself when the other is empty).
    package func sortedUnion(_ other: [Element]) -> [Element] {
        if other.isEmpty { return self }
        if isEmpty { return other }
        var result: [Element] = []
        result.reserveCapacity(count + other.count)
        var (i, j) = (0, 0)
        while i < count, j < other.count {
            let (a, b) = (self[i], other[j])
            result.append(Swift.min(a, b))
            if a <= b { i += 1 }
            if b <= a { j += 1 }
        }
        result += self[i...]
        result += other[j...]
        return result
    }
}

/// A loaded LD4MRec model, laid out for serving. Immutable: share it between threads.
public final class Model: Sendable {
    public let hyperparameters: Hyperparameters
    public let catalogue: ItemCatalogue
    public let modalityNames: [String]
    /// Users with a learned initial-step embedding.
    public let userIDs: [Int64]
    /// Training histories from the file, if it has them.
    public let trainingHistories: CSRHistories?
    /// How the large tables are stored.
    public let precision: Precision
    /// Whether top-K requests may be screened, as asked at loading (`screensTopK`: whether
    /// they are).
    public let screening: Bool

    let userRowOf: [Int64: Int]
    /// W_in transposed (n_items x d): the input layer of a multi-hot history is a sum of
    /// its rows, each contiguous.
    let inputByItem: InferenceTable
    let inputBias: [Float]
    let blocks: [ServingBlock]
    /// The score mixture folded into the tables: `cnetScale * (W_out, b_out)` and
    /// `itemItemScale * B`, so that a score is `W_out h + b_out + sum_{j in H} B[j]`.
    let output: InferenceTable
    let outputBias: [Float]
    /// W_out (scaled) again in bf16 panels, to screen top-K requests (`Model.screened`).
    let outputScreen: ScreeningTable?
    let itemItem: InferenceTable?
    /// The sparse prior, its values times `itemItemScale`.
    let sparsePrior: SparseRows?
    let signals: ConditionSignals
    let zIn: Matrix
    let zInDefault: [Float]

    /// Builds a serving model from validated parameters. With float32 tables on a CPU with
    /// AVX512_BF16, `screening` keeps a bf16 copy of the output layer (half its memory
    /// again) that top-K requests use to find the items that can make the list, before
    /// scoring only those in float32: the same lists and scores, at about the cost of
    /// reading bf16 weights (AMX tiles for batches where the CPU has them).
    public init(_ parameters: ModelParameters, precision: Precision = .float32, screening: Bool = true) throws {
        try parameters.validate()
        hyperparameters = parameters.hyperparameters
        catalogue = ItemCatalogue(ids: parameters.itemIDs)
        modalityNames = parameters.modalities.map(\.name)
        userIDs = parameters.userIDs
        trainingHistories = parameters.histories
        self.precision = precision
        self.screening = screening
        var userRowOf = [Int64: Int](minimumCapacity: parameters.userCount)
        for (row, id) in parameters.userIDs.enumerated() { userRowOf[id] = row }
        self.userRowOf = userRowOf

        let w = parameters.input.weight
        let transposed = [Float](unsafeUninitializedCapacity: w.values.count) { buffer, count in
            w.values.withUnsafeBufferPointer { BLAS.transpose($0.baseAddress!, rows: w.rows, cols: w.cols, into: buffer.baseAddress!) }
            count = w.values.count
        }
        inputByItem = try InferenceTable(rows: w.cols, cols: w.rows, values: transposed, precision: precision, use: .gathered)
        inputBias = parameters.input.bias
        blocks = try parameters.blocks.map { try ServingBlock($0, precision: precision) }
        let scale = parameters.cnetScale
        let outputWeight = parameters.output.weight
        let scaledOutput = scale == 1 ? outputWeight.values : outputWeight.values.map { $0 * scale }
        output = try InferenceTable(rows: outputWeight.rows, cols: outputWeight.cols, values: scaledOutput, precision: precision)
        if screening, precision == .float32, ScreeningTable.isAvailable {
            outputScreen = try scaledOutput.withUnsafeBufferPointer {
                try ScreeningTable(rows: outputWeight.rows, cols: outputWeight.cols, values: $0.baseAddress!)
            }
        } else {
            outputScreen = nil
        }
        outputBias = parameters.output.bias.map { $0 * scale }
        if let prior = parameters.itemItem, parameters.itemItemScale != 0 {
            itemItem = try InferenceTable(prior, precision: precision, scale: parameters.itemItemScale, use: .gathered)
        } else {
            itemItem = nil
        }
        if var prior = parameters.itemItemSparse, parameters.itemItemScale != 0 {
            prior.values = prior.values.map { $0 * parameters.itemItemScale }
            sparsePrior = prior
        } else {
            sparsePrior = nil
        }
        signals = ConditionSignals(svdItemFactors: parameters.svdItemFactors, singularValues: parameters.svdSingularValues,
                                   itemDegrees: parameters.itemDegrees, features: parameters.modalities.map(\.features))
        zIn = parameters.zIn
        zInDefault = parameters.zInDefault
    }

    /// Loads and validates a model file (docs/FORMAT.md).
    public convenience init(contentsOf path: String, precision: Precision = .float32, screening: Bool = true) throws {
        try self.init(try ModelFile.read(from: path), precision: precision, screening: screening)
    }

    public var itemCount: Int { catalogue.count }
    /// Whether scores mix in an item-item prior (docs/MODEL.md).
    public var hasItemItemPrior: Bool { itemItem != nil || sparsePrior != nil }
    /// Feature dimension of each modality, in `modalityNames` order.
    public var modalityDimensions: [Int] { signals.features.map(\.cols) }
    public var hiddenSize: Int { hyperparameters.hiddenSize }
    /// Whether top-K requests are screened in bf16 (see `init`).
    public var screensTopK: Bool { outputScreen != nil }
    /// Bytes of the tables scoring reads (weights, signals, prior).
    public var weightBytes: Int {
        let dense = blocks.reduce(0) { $0 + $1.bytes } + inputByItem.bytes + output.bytes + (outputScreen?.bytes ?? 0)
            + (itemItem?.bytes ?? 0)
            + (sparsePrior.map { 8 * $0.entries + 8 * $0.offsets.count } ?? 0)
        let floats = inputBias.count + outputBias.count + signals.svdItemFactors.values.count
            + signals.features.reduce(0) { $0 + $1.values.count }
        return dense + 4 * floats
    }

    /// Bytes one request reads at least: every table it multiplies (the blocks' layers and
    /// the output layer); the rows it gathers (input layer, prior, signals) are few.
    public var denseBytes: Int { blocks.reduce(0) { $0 + $1.bytes } + output.bytes }

    /// The row of z_in for a user, nil for users unknown to the model.
    func userRow(of id: Int64?) -> Int? { id.flatMap { userRowOf[$0] } }
}

/// One CG/PG block laid out for serving.
struct ServingBlock: Sendable {
    /// W1 on [h ; z] (d x (d + d_f)), W2 on c_u (d x 2k), W3 on z (d x d_f).
    let hidden, condition, gate: InferenceTable
    let hiddenBias, conditionBias, gateBias: [Float]
    /// Per modality: the scale and the shift networks.
    let film: [(scale: ServingFiLM, shift: ServingFiLM)]

    init(_ block: CNetBlock, precision: Precision) throws {
        hidden = try InferenceTable(block.hidden.weight, precision: precision)
        condition = try InferenceTable(block.condition.weight, precision: precision)
        gate = try InferenceTable(block.gate.weight, precision: precision)
        (hiddenBias, conditionBias, gateBias) = (block.hidden.bias, block.condition.bias, block.gate.bias)
        film = try zip(block.filmScale, block.filmShift).map {
            (try ServingFiLM($0.0, precision: precision), try ServingFiLM($0.1, precision: precision))
        }
    }

    var bytes: Int {
        hidden.bytes + condition.bytes + gate.bytes + film.reduce(0) { $0 + $1.scale.bytes + $1.shift.bytes }
    }
}

/// `fc2(leaky_relu(fc1(p)))` laid out for serving.
struct ServingFiLM: Sendable {
    let fc1, fc2: InferenceTable
    let fc1Bias, fc2Bias: [Float]

    init(_ network: FiLMNetwork, precision: Precision) throws {
        fc1 = try InferenceTable(network.fc1.weight, precision: precision)
        fc2 = try InferenceTable(network.fc2.weight, precision: precision)
        (fc1Bias, fc2Bias) = (network.fc1.bias, network.fc2.bias)
    }

    var bytes: Int { fc1.bytes + fc2.bytes }
}

extension InferenceTable {
    init(_ matrix: Matrix, precision: Precision, scale: Float = 1, use: TableUse = .multiplied) throws {
        try self.init(rows: matrix.rows, cols: matrix.cols, values: matrix.values, precision: precision, scale: scale, use: use)
    }
}
