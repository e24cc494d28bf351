import ArgumentParser
import LD4MRec

/// `train`'s hyperparameter options, driven by `Hyperparameters.fields`: every field with
/// a command-line name is an option (`--name VALUE`, `--name=VALUE`, or `--name` alone for
/// a flag), checked against the field's allowed values.
enum HyperparameterOptions {
    static let fields = Hyperparameters.fields.filter { $0.option != nil }

    /// Hyperparameters: the defaults, changed by `arguments`.
    static func parse(_ arguments: [String]) throws -> Hyperparameters {
        var h = Hyperparameters()
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw ValidationError("unexpected argument '\(argument)'")
            }
            var name = String(argument.dropFirst(2))
            var text: String?
            if let equals = name.firstIndex(of: "=") {
                text = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let field = fields.first(where: { $0.option == name }) else {
                throw ValidationError("unknown option '--\(name)' (see 'ld4mrec train --help')")
            }
            if text == nil {
                if field.kind == .flag {
                    text = "true"
                } else {
                    guard i < arguments.count else { throw ValidationError("missing value for '--\(name)'") }
                    text = arguments[i]
                    i += 1
                }
            }
            try reported(field) { try field.assign(try field.parse(text ?? ""), to: &h) }
        }
        for field in fields { try reported(field) { try field.validate(h) } }
        return h
    }

    /// The options as `train --help` lists them: the option and its file attribute, the
    /// default and the allowed values, then what it means.
    static var help: String {
        let defaults = Hyperparameters()
        return fields.map { field in
            let option = "--\(field.option ?? "")"
            let summary: String
            switch field.kind {
            case .flag:
                let on = field.value(in: defaults) == .integer(1)
                summary = "\(option)[=false]: \(field.name), \(on ? "on" : "off") by default"
            case .integer, .seed, .real, .choice:
                let value = field.value(in: defaults).map { "\($0)" } ?? "none"
                summary = "\(option) <value>: \(field.name), default \(value), \(field.allowedValues)"
            }
            return "  \(summary)\n      \(field.help)"
        }.joined(separator: "\n")
    }

    /// Runs `body`, naming the option in its error.
    private static func reported(_ field: HyperparameterField, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as LD4MRecError {
            throw ValidationError("--\(field.option ?? field.name): \(error.message)")
        }
    }
}

extension Precision: ExpressibleByArgument {}

/// How `evaluate` and `recommend` hold a model while scoring.
struct ServingOptions: ParsableArguments {
    @Option(help: "How the model holds its tables while scoring (bfloat16: half the memory).")
    var precision = Precision.float32

    @Flag(name: .customLong("no-screening"),
          help: "Score every item in float32 rather than screening top-K lists in bf16 first (same lists).")
    var noScreening = false

    /// The serving model of `parameters`, held as asked.
    func model(_ parameters: ModelParameters) throws -> Model {
        try Model(parameters, precision: precision, screening: !noScreening)
    }
}
