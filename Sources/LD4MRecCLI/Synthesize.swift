import ArgumentParser
import LD4MRec

struct Synthesize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model file with random weights and histories.",
        discussion: """
            For integration tests and deployment smoke tests: the file is valid and every \
            part of the forward pass is exercised, but its recommendations are meaningless. \
            Item ids are 1000, 1007, 1014, ... (see --first-item-id and --item-id-step); \
            user ids 500, 503, 506, ...
            """)

    @Option(help: "Where to write the model.")
    var out: String

    @Option var items = 300
    @Option var users = 60
    @Option var hidden = 32
    @Option(name: .customLong("svd-rank")) var svdRank = 8
    @Option(name: .customLong("step-embedding")) var stepEmbedding = 10
    @Option var blocks = 2
    @Option(name: .customLong("film-hidden")) var filmHidden = 16
    @Option(help: "Modalities as name:dimension, comma-separated; empty for none.")
    var modalities = "image:16,audio:8"
    @Option var seed: UInt64 = 1
    @Option(name: .customLong("first-item-id"), help: "The id of the first item.")
    var firstItemID: Int64 = 1000
    @Option(name: .customLong("item-id-step"),
            help: "The difference between consecutive item ids; negative for a catalogue in descending id order.")
    var itemIDStep: Int64 = 7
    @Flag(name: .customLong("no-item-item"), help: "Leave out the item-item prior (a C-Net-only model).")
    var noItemItem = false
    @Flag(name: .customLong("sparse-item-item"), help: "A sparse item-item prior (a few neighbours per item) instead of a dense one.")
    var sparseItemItem = false

    func run() throws {
        var spec = SyntheticModelSpec()
        spec.items = items
        spec.users = users
        spec.seed = seed
        spec.itemItemPrior = !noItemItem
        spec.firstItemID = firstItemID
        spec.itemIDStep = itemIDStep
        spec.sparsePrior = sparseItemItem
        spec.hyperparameters.hiddenSize = hidden
        spec.hyperparameters.svdRank = svdRank
        spec.hyperparameters.stepEmbeddingSize = stepEmbedding
        spec.hyperparameters.blocks = blocks
        spec.hyperparameters.filmHiddenSize = filmHidden
        spec.modalities = try modalities.split(separator: ",").map { part in
            let fields = part.split(separator: ":")
            guard fields.count == 2, let dimension = Int(fields[1]), dimension >= 1 else {
                throw ValidationError("--modalities: '\(part)' is not name:dimension")
            }
            return (String(fields[0]), dimension)
        }
        try reportingErrors {
            try ModelFile.write(try ModelParameters.synthetic(spec), to: out)
        }
        print("wrote \(out): \(items) items, \(users) users, \(spec.modalities.count) modalities")
    }
}
