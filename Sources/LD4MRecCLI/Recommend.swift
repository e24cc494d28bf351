import ArgumentParser
import LD4MRec

struct Recommend: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recommend items for a user known to the model, or for a history.",
        discussion: """
            --user serves a user from the training histories stored in the model file \
            (an unknown user gets the recommendations of an empty history); --history \
            takes item ids. Items of the history are excluded from the results.
            """)

    @Argument(help: ArgumentHelp("The model file (HDF5).", valueName: "model"))
    var modelPath: String

    @Option(help: "A user id known to the model.")
    var user: Int64?

    @Option(help: "Comma-separated item ids.")
    var history: String?

    @Option(name: .short, help: "How many items.")
    var k = 20

    @OptionGroup var serving: ServingOptions

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard (user == nil) != (history == nil) else { throw ValidationError("give exactly one of --user and --history") }
        guard k >= 1 else { throw ValidationError("-k must be at least 1") }
    }

    func run() throws {
        let model = try reportingErrors { try serving.model(ModelFile.read(from: modelPath)) }
        let query: Query
        if let user {
            query = model.query(user: user, in: HistoryStore(model: model, trainingHistories: true))
        } else {
            let ids = try (history ?? "").split(separator: ",").map { text -> Int64 in
                guard let id = Int64(text.filter { $0 != " " }) else {
                    throw ValidationError("--history: '\(text)' is not an integer item id")
                }
                return id
            }
            query = model.query(history: ids)
        }
        let recommendations = try reportingErrors { try model.recommend(query, k: k) }
        if json {
            let items = recommendations.map { "{\"item\": \($0.itemID), \"score\": \($0.score)}" }
            print("{\"history_items\": \(query.historyCount), \"skipped_items\": \(query.skippedItems), "
                + "\"recommendations\": [\(items.joined(separator: ", "))]}")
        } else {
            if query.skippedItems > 0 { print("(\(query.skippedItems) history item(s) unknown to the model were skipped)") }
            print("rank  item              score")
            for (rank, r) in recommendations.enumerated() {
                print("\(String(rank + 1).padding(6))\(String(r.itemID).padding(18))\(r.score)")
            }
        }
    }
}
