import ArgumentParser
import LD4MRec

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model file's format version, sizes, hyperparameters and modalities.")

    @Argument(help: ArgumentHelp("The model file (HDF5).", valueName: "model"))
    var modelPath: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let model = try reportingErrors { try Model(contentsOf: modelPath) }
        let h = model.hyperparameters
        let fields: [(String, String)] = [
            ("format_version", "\(ModelFile.formatVersion)"),
            ("n_items", "\(model.itemCount)"),
            ("n_users", "\(model.userIDs.count)"),
            ("n_history_users", "\(model.trainingHistories?.rowCount ?? 0)"),
            ("hidden_size", "\(h.hiddenSize)"),
            ("svd_rank", "\(h.svdRank)"),
            ("step_embedding_size", "\(h.stepEmbeddingSize)"),
            ("n_blocks", "\(h.blocks)"),
            ("film_hidden_size", "\(h.filmHiddenSize)"),
            ("leaky_relu_slope", "\(h.leakyReluSlope)"),
            ("n_steps", "\(h.steps)"),
            ("noise_scale", "\(h.noiseScale)"),
            ("noise_min", "\(h.noiseMin)"),
            ("loss", h.loss.rawValue),
            ("step_sampler", h.stepSampler.rawValue),
            ("learning_rate", "\(h.learningRate)"),
            ("batch_size", "\(h.batchSize)"),
            ("soft_target_probability", "\(h.softTargetProbability)"),
            ("soft_target_gamma", "\(h.softTargetGamma)"),
            ("input_dropout", "\(h.inputDropout)"),
            ("conditions_from_dropped_history", "\(h.conditionsFromDroppedHistory)"),
            ("weight_decay", "\(h.weightDecay)"),
            ("feature_standardization", h.featureStandardization.rawValue),
            ("item_item_prior", model.hasItemItemPrior ? h.itemItemPrior.rawValue : "none"),
            ("ensemble_weight", h.ensembleWeight.map { "\($0)" } ?? "none"),
            ("seed", "\(h.seed)"),
        ]
        let modalities = zip(model.modalityNames, model.modalityDimensions).map { "\($0) (\($1))" }
        if json {
            let numeric = Set(["format_version", "n_items", "n_users", "n_history_users", "hidden_size", "svd_rank",
                               "step_embedding_size", "n_blocks", "film_hidden_size", "leaky_relu_slope", "n_steps",
                               "noise_scale", "noise_min", "learning_rate", "batch_size", "soft_target_probability",
                               "soft_target_gamma", "input_dropout", "weight_decay", "seed",
                               "conditions_from_dropped_history"])
            // A number, or the string "none" when the model has no mixture weight.
            let raw = { (key: String, value: String) in numeric.contains(key) || (key == "ensemble_weight" && value != "none") }
            var parts = fields.map { "\"\($0.0)\": " + (raw($0.0, $0.1) ? $0.1 : "\"\($0.1)\"") }
            let list = zip(model.modalityNames, model.modalityDimensions)
                .map { "{\"name\": \(jsonString($0)), \"dimension\": \($1)}" }
            parts.append("\"modalities\": [\(list.joined(separator: ", "))]")
            print("{" + parts.joined(separator: ", ") + "}")
        } else {
            for (name, value) in fields { print("\(name.padding(32))\(value)") }
            print("\("modalities".padding(32))\(modalities.isEmpty ? "none" : modalities.joined(separator: ", "))")
        }
    }
}

func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case _ where scalar.value < 0x20: 
            let hex = String(scalar.value, radix: 16)
            result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
