/// Every hyperparameter of the model and its training (docs/MODEL.md), as recorded in the
/// model file. Serving reads the architecture fields; the training fields are recorded so
/// that a model file says how it was made.
public struct Hyperparameters: Sendable, Equatable {
    // Architecture.
    /// d: width of the C-Net's hidden layers.
    public var hiddenSize = 1000
    /// k: rank of the randomized SVD (the collaborative signal has length 2k).
    public var svdRank = 100
    /// d_f: length of the step embedding and of the per-user initial-step embedding z_in.
    public var stepEmbeddingSize = 10
    /// S: stacked CG/PG blocks.
    public var blocks = 2
    /// h_mlp: hidden width of the FiLM MLPs of the PG block.
    public var filmHiddenSize = 128
    /// Negative slope of every leaky ReLU.
    public var leakyReluSlope = 0.2

    // Diffusion.
    /// T: diffusion steps.
    public var steps = 5
    /// s_noise and a_min of the noise schedule (Eq. 3).
    public var noiseScale = 0.1
    public var noiseMin = 1e-4

    // Training.
    public var softTargetProbability = 0.01
    public var softTargetGamma = 0.01
    public var stepSampler: StepSampler = .importance
    public var loss: Loss = .squaredError
    public var learningRate = 1e-3
    public var batchSize = 400
    public var maxEpochs = 1000
    public var patience = 20
    public var inputDropout = 0.0
    public var conditionsFromDroppedHistory = false
    public var weightDecay = 0.0
    public var svdOversamples = 10
    public var svdPowerIterations = 4
    public var featureStandardization: FeatureStandardization = .trainingItems
    public var seed: UInt64 = 0

    // Scoring beyond the C-Net (docs/MODEL.md, "The item-item prior").
    /// The closed-form item-item model mixed into the scores; `.ease` needs an
    /// n_items x n_items matrix, so the trainer skips it above `itemItemMaxItems`.
    public var itemItemPrior: ItemItemPrior = .ease
    /// EASE's L2 regularisation lambda.
    public var easeLambda = 50.0
    /// Weight w of the C-Net in the mixture (the prior gets 1 - w), each part scaled by
    /// its standard deviation over the validation users; nil: chosen on validation.
    public var ensembleWeight: Double?
    public static let itemItemMaxItems = 16384

    public enum StepSampler: String, Sendable, CaseIterable { case importance, uniform }
    public enum Loss: String, Sendable, CaseIterable { case squaredError = "mse", multinomial }
    public enum FeatureStandardization: String, Sendable, CaseIterable {
        case trainingItems = "training-items", none
    }
    public enum ItemItemPrior: String, Sendable, CaseIterable { case none, ease }

    public init() {}

    /// Checks the architecture fields; throws `.invalidFile`-coded errors through `make`.
    func validateArchitecture(_ make: (String) -> LD4MRecError) throws {
        func positive(_ value: Int, _ name: String, max: Int = 1 << 20) throws {
            guard value >= 1, value <= max else { throw make("\(name) must be in 1...\(max), got \(value)") }
        }
        try positive(hiddenSize, "hidden_size")
        try positive(svdRank, "svd_rank")
        try positive(stepEmbeddingSize, "step_embedding_size")
        try positive(blocks, "n_blocks", max: 64)
        try positive(filmHiddenSize, "film_hidden_size")
        try positive(steps, "n_steps", max: 100_000)
        guard leakyReluSlope.isFinite, leakyReluSlope >= 0, leakyReluSlope < 1 else {
            throw make("leaky_relu_slope must be in [0, 1), got \(leakyReluSlope)")
        }
    }
}

extension Hyperparameters {
    /// Checks the training fields.
    public func validateTraining() throws {
        func require(_ ok: Bool, _ message: String) throws {
            guard ok else { throw LD4MRecError.invalidArgument(message) }
        }
        try require(noiseScale > 0 && noiseScale <= 1, "noise scale must be in (0, 1], got \(noiseScale)")
        try require(noiseMin >= 0 && noiseMin <= 1, "noise min must be in [0, 1], got \(noiseMin)")
        try require(softTargetProbability >= 0 && softTargetProbability <= 1, "soft-target probability must be in [0, 1]")
        try require(softTargetGamma >= 0 && softTargetGamma <= 1, "soft-target gamma must be in [0, 1]")
        try require(learningRate > 0 && learningRate.isFinite, "learning rate must be positive, got \(learningRate)")
        try require(batchSize >= 1, "batch size must be at least 1")
        try require(maxEpochs >= 1, "epochs must be at least 1")
        try require(patience >= 1, "patience must be at least 1")
        try require(inputDropout >= 0 && inputDropout < 1, "input dropout must be in [0, 1), got \(inputDropout)")
        try require(weightDecay >= 0 && weightDecay.isFinite, "weight decay must be non-negative")
        try require(svdOversamples >= 0 && svdPowerIterations >= 0, "SVD oversamples and power iterations must be non-negative")
        try require(easeLambda > 0 && easeLambda.isFinite, "EASE lambda must be positive, got \(easeLambda)")
        if let w = ensembleWeight { try require(w >= 0 && w <= 1, "ensemble weight must be in [0, 1], got \(w)") }
    }
}
