import ArgumentParser
import LD4MRec

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recall@10/20 and NDCG@10/20 of a model on a dataset split (all-ranking, training items masked).")

    @Option(help: "The model file.") var model: String
    @Option(help: "Dataset folder (MMRec layout) the model was trained on.") var data: String
    @Option(help: "valid or test.") var split = "test"
    @Flag(help: "Also evaluate the popularity baseline.") var popularity = false
    @Flag(name: .customLong("without-item-item"), help: "Score with the C-Net alone, leaving out the item-item prior (ablation).")
    var withoutItemItem = false
    @Flag(name: .customLong("mask-validation"),
          help: "Also mask each user's validation items when ranking (DiffRec's protocol for test).")
    var maskValidation = false
    @OptionGroup var serving: ServingOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        guard let which = Dataset.Split(rawValue: split), which != .train else { throw ValidationError("--split: valid or test") }
        let loaded = try reportingErrors {
            let parameters = try ModelFile.read(from: model)
            return try serving.model(withoutItemItem ? parameters.withoutItemItemPrior() : parameters)
        }
        let dataset = try reportingErrors { try Dataset.load(directory: data, modalityNames: []) }
        guard loaded.itemCount == dataset.itemCount else {
            throw ValidationErrorMessage(message: "the model has \(loaded.itemCount) items, the dataset \(dataset.itemCount)")
        }
        let metrics = try reportingErrors { try Evaluation.evaluate(loaded, on: dataset, split: which, maskValidation: maskValidation) }
        let baseline = popularity ? Evaluation.popularity(on: dataset, split: which, maskValidation: maskValidation) : nil
        if json {
            var text = "{\"split\": \"\(split)\", \"users\": \(metrics.users), " + fields(metrics)
            if let baseline { text += ", \"popularity\": {" + fields(baseline) + "}" }
            print(text + "}")
        } else {
            print("\(split) (\(metrics.users) users): " + line(metrics))
            if let baseline { print("popularity baseline: " + line(baseline)) }
        }
    }

    private func fields(_ m: RankingMetrics) -> String {
        "\"recall@10\": \(m.recall10), \"recall@20\": \(m.recall20), \"ndcg@10\": \(m.ndcg10), \"ndcg@20\": \(m.ndcg20)"
    }

    private func line(_ m: RankingMetrics) -> String {
        "recall@10 \(format(m.recall10, 4))  recall@20 \(format(m.recall20, 4))  ndcg@10 \(format(m.ndcg10, 4))  ndcg@20 \(format(m.ndcg20, 4))"
    }
}
