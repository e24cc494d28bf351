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
        // (name, value, whether JSON shows it as a number)
        var fields: [(String, String, Bool)] = [
            ("format_version", "\(ModelFile.formatVersion)", true),
            ("n_items", "\(model.itemCount)", true),
            ("n_users", "\(model.userIDs.count)", true),
            ("n_history_users", "\(model.trainingHistories?.rowCount ?? 0)", true),
        ]
        for field in Hyperparameters.fields {
            switch field.value(in: h) {
            case .integer(let x) where field.kind == .flag: fields.append((field.name, x == 1 ? "true" : "false", true))
            case .integer(let x) where field.kind == .seed: fields.append((field.name, "\(UInt64(bitPattern: x))", true))
            case .integer(let x): fields.append((field.name, "\(x)", true))
            case .real(let x): fields.append((field.name, "\(x)", true))
            case .text(let x): fields.append((field.name, x, false))
            case nil: fields.append((field.name, "none", false))
            }
        }
        // What the scores use, whatever the file records of how it was made.
        if !model.hasItemItemPrior, let row = fields.firstIndex(where: { $0.0 == "item_item_prior" }) {
            fields[row].1 = "none"
        }
        let modalities = zip(model.modalityNames, model.modalityDimensions).map { "\($0) (\($1))" }
        if json {
            var parts = fields.map { "\"\($0.0)\": " + ($0.2 ? $0.1 : jsonString($0.1)) }
            let list = zip(model.modalityNames, model.modalityDimensions)
                .map { "{\"name\": \(jsonString($0)), \"dimension\": \($1)}" }
            parts.append("\"modalities\": [\(list.joined(separator: ", "))]")
            print("{" + parts.joined(separator: ", ") + "}")
        } else {
            for (name, value, _) in fields { print("\(name.padding(32))\(value)") }
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
