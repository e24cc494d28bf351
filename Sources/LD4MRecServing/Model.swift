import LD4MRecCore
import LD4MRecStorage

/// The items a model scores and the map from external ids to rows.
public final class ItemCatalogue: Sendable {
    public let ids: [Int64]
    private let rowOf: [Int64: Int32]

    init(ids: [Int64]) {
        self.ids = ids
        var rowOf = [Int64: Int32](minimumCapacity: ids.count)
        for (row, id) in ids.enumerated() { rowOf[id] = Int32(row) }
        self.rowOf = rowOf
    }

    public var count: Int { ids.count }

    public func row(of id: Int64) -> Int32? { rowOf[id] }

    /// Known rows of `ids`, sorted and without duplicates, and how many ids were unknown.
    func resolveSet(_ ids: some Sequence<Int64>) -> (rows: [Int32], unknown: Int) {
        var rows: [Int32] = []
        var unknown = 0
        for id in ids {
            if let row = rowOf[id] { rows.append(row) } else { unknown += 1 }
        }
        rows.sort()
        return (rows.uniqued(), unknown)
    }

    /// How many of `ids` the catalogue does not know.
    func unknownCount(_ ids: some Sequence<Int64>) -> Int {
        ids.reduce(0) { rowOf[$1] == nil ? $0 + 1 : $0 }
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

/// A loaded LD4MRec model, laid out for serving. Immutable: share it between threads.
public final class Model: Sendable {
    public let hyperparameters: Hyperparameters
    public let catalogue: ItemCatalogue
    public let modalityNames: [String]
    /// Users with a learned initial-step embedding.
    public let userIDs: [Int64]
    /// Training histories from the file, if it has them.
    public let trainingHistories: CSRHistories?

    let userRowOf: [Int64: Int]
    /// W_in transposed (n_items x d): the input layer of a multi-hot history is a sum of
    /// its rows, each contiguous.
    let inputByItem: Matrix
    let inputBias: [Float]
    let blocks: [CNetBlock]
    /// W_out (n_items x d) and b_out: a candidate's score is one row's dot product.
    let output: DenseLayer
    let signals: ConditionSignals
    let zIn: Matrix
    let zInDefault: [Float]
    /// The item-item prior B (row i: what history item i adds) and the score mixture
    /// `cnetScale * xhat0 + itemItemScale * x_in B`.
    let itemItem: Matrix?
    let cnetScale: Float
    let itemItemScale: Float

    /// Builds a serving model from validated parameters.
    public init(_ parameters: ModelParameters) throws {
        try parameters.validate()
        hyperparameters = parameters.hyperparameters
        catalogue = ItemCatalogue(ids: parameters.itemIDs)
        modalityNames = parameters.modalities.map(\.name)
        userIDs = parameters.userIDs
        trainingHistories = parameters.histories
        var userRowOf = [Int64: Int](minimumCapacity: parameters.userCount)
        for (row, id) in parameters.userIDs.enumerated() { userRowOf[id] = row }
        self.userRowOf = userRowOf

        let w = parameters.input.weight
        var transposed = Matrix(zeros: w.cols, w.rows)
        for r in 0 ..< w.rows {
            for c in 0 ..< w.cols { transposed.values[c * w.rows + r] = w.values[r * w.cols + c] }
        }
        inputByItem = transposed
        inputBias = parameters.input.bias
        blocks = parameters.blocks
        output = parameters.output
        signals = ConditionSignals(svdItemFactors: parameters.svdItemFactors, singularValues: parameters.svdSingularValues,
                                   itemDegrees: parameters.itemDegrees, features: parameters.modalities.map(\.features))
        zIn = parameters.zIn
        zInDefault = parameters.zInDefault
        itemItem = parameters.itemItem
        cnetScale = parameters.cnetScale
        itemItemScale = parameters.itemItemScale
    }

    /// Loads and validates a model file (docs/FORMAT.md).
    public convenience init(contentsOf path: String) throws {
        try self.init(try ModelFile.read(from: path))
    }

    public var itemCount: Int { catalogue.count }
    /// Whether scores mix in an item-item prior (docs/MODEL.md).
    public var hasItemItemPrior: Bool { itemItem != nil && itemItemScale != 0 }
    /// Feature dimension of each modality, in `modalityNames` order.
    public var modalityDimensions: [Int] { signals.features.map(\.cols) }
    public var hiddenSize: Int { hyperparameters.hiddenSize }

    /// The row of z_in for a user, nil for users unknown to the model.
    func userRow(of id: Int64?) -> Int? { id.flatMap { userRowOf[$0] } }
}
