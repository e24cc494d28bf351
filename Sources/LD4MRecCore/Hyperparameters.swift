/// Every hyperparameter of the model and its training (docs/MODEL.md), as recorded in the
/// model file. Serving reads the architecture fields; the training fields are recorded so
/// that a model file says how it was made. `Hyperparameters.fields` describes each one
/// (name, allowed values, command-line option) for the file reader and writer, `inspect`
/// and `train`.
public struct Hyperparameters: Sendable, Equatable {
    // Architecture.
    public var hiddenSize = 1000
    public var svdRank = 100
    public var stepEmbeddingSize = 10
    public var blocks = 2
    public var filmHiddenSize = 128
    public var leakyReluSlope = 0.2

    // Diffusion. The training defaults (noise scale, loss, input dropout, conditions from
    // the dropped history) are the accuracy issue's, not the paper's: docs/MODEL.md.
    public var steps = 5
    public var noiseScale = 0.01
    public var noiseMin = 1e-4

    // Training.
    public var softTargetProbability = 0.01
    public var softTargetGamma = 0.01
    public var stepSampler: StepSampler = .importance
    public var loss: Loss = .multinomial
    public var learningRate = 1e-3
    public var batchSize = 400
    public var maxEpochs = 1000
    public var patience = 20
    public var inputDropout = 0.5
    public var hiddenDropout = 0.0
    public var conditionsFromDroppedHistory = true
    public var weightDecay = 0.0
    public var svdOversamples = 10
    public var svdPowerIterations = 4
    public var featureStandardization: FeatureStandardization = .trainingItems
    public var seed: UInt64 = 0
    /// C-Nets trained (seeds drawn from `seed`) and averaged into one, K times as wide
    /// (docs/MODEL.md); a model file records the served width in the architecture fields.
    public var cnets = 1
    /// Distillation (docs/MODEL.md): each user's target gains `distillationWeight` times
    /// the history's length times a teacher's ranking (a softmax of its standardised
    /// scores at `distillationTemperature`); the teacher is a model file or, without one,
    /// `teacherCNets` C-Nets trained first (and then the model without a teacher is kept
    /// if validation prefers it). 0: no teacher.
    public var distillationWeight = 2.0
    public var distillationTemperature = 1.0
    public var teacherCNets = 3

    // Scoring beyond the C-Net (docs/MODEL.md, "The item-item prior").
    public var itemItemPrior: ItemItemPrior = .auto
    public var easeLambda = 50.0
    /// Choose EASE's lambda on validation among multiples of `easeLambda` (0.2 ... 20).
    public var chooseEaseLambda = true
    /// The sparse prior's neighbours per item, and the exponent of the target's popularity
    /// in its similarities (chosen on validation unless `chooseKnnPopularityExponent` is off).
    public var itemItemNeighbours = 100
    public var knnPopularityExponent = 0.5
    public var chooseKnnPopularityExponent = true
    /// Weight w of the C-Net in the mixture (the prior gets 1 - w); nil: chosen on
    /// validation.
    public var ensembleWeight: Double?
    /// The dense prior needs n_items^2 floats: `auto` tries it up to this size.
    public static let itemItemMaxItems = 16384

    public enum StepSampler: String, Sendable, CaseIterable { case importance, uniform }
    public enum Loss: String, Sendable, CaseIterable { case squaredError = "mse", multinomial }
    public enum FeatureStandardization: String, Sendable, CaseIterable {
        case trainingItems = "training-items", none
    }
    /// `ease`: dense EASE (n_items^2 floats); `knn`: each item's nearest neighbours
    /// (sparse); `auto`: up to `itemItemMaxItems` items both, the better mixture on
    /// validation kept, kNN alone above. A trained model records the kind it holds.
    public enum ItemItemPrior: String, Sendable, CaseIterable { case none, ease, knn, auto }

    public init() {}

    /// The table: one entry per hyperparameter, in the order `inspect` shows them.
    public static let fields: [HyperparameterField] = [
        .integer("hidden_size", \.hiddenSize, 1 ... 1 << 20, .architecture, option: "hidden", "Hidden size d of the C-Net."),
        .integer("svd_rank", \.svdRank, 1 ... 1 << 20, .architecture, option: "svd-rank",
                 "Rank k of the randomized SVD (the collaborative signal has length 2k)."),
        .integer("step_embedding_size", \.stepEmbeddingSize, 1 ... 1 << 20, .architecture, option: "step-embedding",
                 "Size d_f of the step embedding and of the per-user z_in."),
        .integer("n_blocks", \.blocks, 1 ... 64, .architecture, option: "blocks", "Stacked CG/PG blocks S."),
        .integer("film_hidden_size", \.filmHiddenSize, 1 ... 1 << 20, .architecture, option: "film-hidden",
                 "Hidden size of the FiLM MLPs of the PG block."),
        .real("leaky_relu_slope", \.leakyReluSlope, .closedOpen(0, 1), .architecture, option: nil,
              "Negative slope of every leaky ReLU."),
        .integer("n_steps", \.steps, 1 ... 100_000, .training, option: "steps", "Diffusion steps T."),
        .real("noise_scale", \.noiseScale, .openClosed(0, 1), .training, option: "noise-scale",
              "s_noise of the noise schedule (Eq. 3)."),
        .real("noise_min", \.noiseMin, .closed(0, 1), .training, option: "noise-min", "a_min of the noise schedule."),
        .real("soft_target_probability", \.softTargetProbability, .closed(0, 1), .training,
              option: "soft-target-probability", "p of the soft reconstruction target."),
        .real("soft_target_gamma", \.softTargetGamma, .closed(0, 1), .training, option: "soft-target-gamma",
              "gamma of the soft reconstruction target."),
        .choice("step_sampler", \.stepSampler, .training, option: "step-sampler", "Sampler of diffusion steps."),
        .choice("loss", \.loss, .training, option: "loss", "Training loss."),
        .real("learning_rate", \.learningRate, .positive, .training, option: "lr", "Adam learning rate."),
        .integer("batch_size", \.batchSize, 1 ... 1 << 30, .training, option: "batch-size", "Users per minibatch."),
        .integer("max_epochs", \.maxEpochs, 1 ... 1 << 30, .training, option: "epochs", "Maximum epochs.",
                 fileRange: 0 ... 1 << 30),
        .integer("patience", \.patience, 1 ... 1 << 30, .training, option: "patience",
                 "Stop after this many epochs without a better validation Recall@20.", fileRange: 0 ... 1 << 30),
        .real("input_dropout", \.inputDropout, .closedOpen(0, 1), .training, option: "input-dropout",
              "Dropout on the C-Net input in training."),
        // Files from before it existed were trained without it.
        .real("hidden_dropout", \.hiddenDropout, .closedOpen(0, 1), .training, option: "hidden-dropout",
              "Dropout on the C-Net's last hidden layer (the output layer's input) in training.", whenAbsent: 0),
        .flag("conditions_from_dropped_history", \.conditionsFromDroppedHistory, .training,
              option: "conditions-from-dropped-history", "Compute the condition signals from the dropped-out history."),
        .real("weight_decay", \.weightDecay, .nonNegative, .training, option: "weight-decay",
              "L2 weight decay added to every gradient."),
        .integer("svd_oversamples", \.svdOversamples, 0 ... 1 << 30, .training, option: "svd-oversamples",
                 "Oversampling of the randomized SVD."),
        .integer("svd_power_iterations", \.svdPowerIterations, 0 ... 1000, .training, option: "svd-power-iterations",
                 "Power iterations of the randomized SVD."),
        .choice("feature_standardization", \.featureStandardization, .training, option: "feature-standardization",
                "Preprocessing of the item features."),
        // Files from before the prior existed have none.
        .choice("item_item_prior", \.itemItemPrior, .training, option: "item-item",
                "The item-item prior mixed into the scores.", whenAbsent: ItemItemPrior.none),
        .real("ease_lambda", \.easeLambda, .positive, .training, option: "ease-lambda",
              "L2 regularisation of the EASE prior (the one chosen, in a trained model's file)."),
        .flag("choose_ease_lambda", \.chooseEaseLambda, .training, option: "choose-ease-lambda",
              "Choose EASE's lambda on validation, from 0.2 to 20 times --ease-lambda and beyond while the best is at an end (=false: keep it)."),
        .integer("item_item_neighbours", \.itemItemNeighbours, 1 ... 1 << 16, .training, option: "item-item-neighbours",
                 "Neighbours per item of the sparse (kNN) prior."),
        .real("knn_popularity_exponent", \.knnPopularityExponent, .closed(0, 4), .training, option: "knn-popularity-exponent",
              "Exponent beta of the target's popularity dividing the kNN prior's similarities (the one chosen, in a trained model's file)."),
        .flag("choose_knn_popularity_exponent", \.chooseKnnPopularityExponent, .training, option: "choose-knn-popularity-exponent",
              "Choose the kNN prior's beta on validation among 0, 0.1, ..., 1 (=false: keep it)."),
        .optionalReal("ensemble_weight", \.ensembleWeight, .closed(0, 1), .training, option: "ensemble-weight",
                      "C-Net weight in [0, 1] of the mixture (default: chosen on validation)."),
        .seed("seed", \.seed, .training, option: "seed", "Random seed."),
        .integer("n_cnets", \.cnets, 1 ... 64, .training, option: "cnets",
                 "Train this many C-Nets and serve their average (one C-Net this many times as wide; that many times the training, about that many times the serving)."),
        // Files from before distillation were trained without it.
        .real("distillation_weight", \.distillationWeight, .nonNegative, .training, option: "distillation-weight",
              "Weight of a teacher's ranking in each user's target, times the history's length (0: no teacher; 'train --teacher' names one, else one of --teacher-cnets C-Nets is trained first, and the model without a teacher, its first C-Net, is kept if validation prefers it).",
              whenAbsent: 0),
        .real("distillation_temperature", \.distillationTemperature, .positive, .training, option: "distillation-temperature",
              "Temperature of the teacher's ranking (a softmax of its per-user standardised scores)."),
        .integer("teacher_cnets", \.teacherCNets, 1 ... 64, .training, option: "teacher-cnets",
                 "C-Nets of the teacher trained first when distilling without a teacher file (with one: the file's n_cnets)."),
    ]

    /// The entry named `name` (as in the model file).
    public static func field(named name: String) -> HyperparameterField? { fields.first { $0.name == name } }

    /// Checks the architecture fields, which serving depends on.
    public func validateArchitecture() throws { try validate(.architecture) }

    /// Checks the fields that only training uses.
    public func validateTraining() throws { try validate(.training) }

    private func validate(_ role: HyperparameterField.Role) throws {
        for field in Self.fields where field.role == role { try field.validate(self) }
    }
}
