/// One item modality: its name and its processed feature table (n_items x dim).
public struct Modality: Sendable, Equatable {
    public var name: String
    public var features: Matrix

    public init(name: String, features: Matrix) {
        self.name = name
        self.features = features
    }
}

/// A fully connected layer, `y = W x + b`, with W stored (out, in).
public struct DenseLayer: Sendable, Equatable {
    public var weight: Matrix
    public var bias: [Float]

    public init(weight: Matrix, bias: [Float]) {
        self.weight = weight
        self.bias = bias
    }

    public var inputSize: Int { weight.cols }
    public var outputSize: Int { weight.rows }
}

/// `MLP(p) = fc2(leaky_relu(fc1(p)))`: one FiLM scale or shift network.
public struct FiLMNetwork: Sendable, Equatable {
    public var fc1: DenseLayer
    public var fc2: DenseLayer

    public init(fc1: DenseLayer, fc2: DenseLayer) {
        self.fc1 = fc1
        self.fc2 = fc2
    }
}

/// One stacked block: the collaborative-guided block and one FiLM step per modality.
public struct CNetBlock: Sendable, Equatable {
    /// W1, b1: (d, d + d_f), input [h ; z].
    public var hidden: DenseLayer
    /// W2, b2: (d, 2k), input c_u.
    public var condition: DenseLayer
    /// W3, b3: (d, d_f), input z.
    public var gate: DenseLayer
    /// Per modality, in the model's modality order.
    public var filmScale: [FiLMNetwork]
    public var filmShift: [FiLMNetwork]

    public init(hidden: DenseLayer, condition: DenseLayer, gate: DenseLayer,
                filmScale: [FiLMNetwork], filmShift: [FiLMNetwork]) {
        self.hidden = hidden
        self.condition = condition
        self.gate = gate
        self.filmScale = filmScale
        self.filmShift = filmShift
    }
}

/// Everything a model file holds, in the file's orientation. The writer, the reader, the
/// trainer and `Model` all speak this type; `Model` re-lays it out for serving.
public struct ModelParameters: Sendable, Equatable {
    public var hyperparameters: Hyperparameters
    /// External ids: item i of every table, user u of `zIn` and `histories`.
    public var itemIDs: [Int64]
    public var userIDs: [Int64]

    // Frozen condition-signal tables.
    /// V (n_items x k) and s (k) of the randomized SVD of the training matrix.
    public var svdItemFactors: Matrix
    public var svdSingularValues: [Float]
    public var itemDegrees: [Int64]
    public var modalities: [Modality]

    // Learned weights.
    /// W_in, b_in: (d, n_items).
    public var input: DenseLayer
    public var blocks: [CNetBlock]
    /// W_out, b_out: (n_items, d).
    public var output: DenseLayer
    /// z_in (n_users x d_f) and z_in_default (d_f).
    public var zIn: Matrix
    public var zInDefault: [Float]

    /// Training histories of `userIDs`, optional.
    public var histories: CSRHistories?

    /// The item-item prior (n_items x n_items, row i = what history item i adds to each
    /// item's score; zero diagonal), optional. With it, a score is
    /// `cnetScale * xhat0 + itemItemScale * (x_in B)`; without it, `xhat0`.
    public var itemItem: Matrix?
    /// The prior in sparse form (each item's strongest neighbours), for catalogues too
    /// large for the dense one; a model holds at most one of the two.
    public var itemItemSparse: SparseRows?
    public var cnetScale: Float = 1
    public var itemItemScale: Float = 0

    public init(hyperparameters: Hyperparameters, itemIDs: [Int64], userIDs: [Int64],
                svdItemFactors: Matrix, svdSingularValues: [Float], itemDegrees: [Int64],
                modalities: [Modality], input: DenseLayer, blocks: [CNetBlock], output: DenseLayer,
                zIn: Matrix, zInDefault: [Float], histories: CSRHistories?) {
        self.hyperparameters = hyperparameters
        self.itemIDs = itemIDs
        self.userIDs = userIDs
        self.svdItemFactors = svdItemFactors
        self.svdSingularValues = svdSingularValues
        self.itemDegrees = itemDegrees
        self.modalities = modalities
        self.input = input
        self.blocks = blocks
        self.output = output
        self.zIn = zIn
        self.zInDefault = zInDefault
        self.histories = histories
    }

    /// Whether the model holds an item-item prior, dense or sparse.
    public var hasItemItemPrior: Bool { itemItem != nil || itemItemSparse != nil }

    public var itemCount: Int { itemIDs.count }
    public var userCount: Int { userIDs.count }

    /// The same model scoring with the C-Net alone (the paper's model), as for an
    /// ablation: the prior and the mixture are dropped.
    public func withoutItemItemPrior() -> ModelParameters {
        var alone = self
        (alone.itemItem, alone.itemItemSparse, alone.cnetScale, alone.itemItemScale) = (nil, nil, 1, 0)
        alone.hyperparameters.itemItemPrior = .none
        alone.hyperparameters.ensembleWeight = nil
        return alone
    }
}
