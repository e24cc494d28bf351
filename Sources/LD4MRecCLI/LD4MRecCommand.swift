import ArgumentParser
import LD4MRec

@main
struct LD4MRecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ld4mrec",
        abstract: "Serve LD4MRec multimedia recommendation models.",
        version: LD4MRecVersion.string,
        subcommands: [Train.self, Evaluate.self, Recommend.self, Inspect.self, MakeDataset.self, Synthesize.self])
}

/// Runs a command body, turning library errors into a message and exit code 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as LD4MRecError {
        throw ValidationErrorMessage(message: error.message)
    }
}

struct ValidationErrorMessage: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
