import ArgumentParser
import LD4MRec

struct MakeDataset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-dataset",
        abstract: "Write the built-in multimodal dataset (MMRec layout) into a folder.",
        discussion: """
            Deterministic for a seed: users prefer latent topics, items belong to topics, \
            and the "image" and "text" features are noisy views of the items' latent \
            vectors. Small enough to train on in about a minute.
            """)

    @Option(help: "The folder to write (created if missing).") var out: String
    @Option var users = 2000
    @Option var items = 1000
    @Option var seed: UInt64 = 2024

    func validate() throws {
        guard users >= 10, items >= 50, users <= 1_000_000, items <= 1_000_000 else {
            throw ValidationError("need 10...1000000 users and 50...1000000 items")
        }
    }

    func run() throws {
        var spec = BuiltinDataset()
        spec.users = users
        spec.items = items
        spec.seed = seed
        let dataset = spec.generate()
        try reportingErrors {
            try createDirectories(out)
            try dataset.write(to: out)
        }
        print("wrote \(out): \(dataset.userCount) users, \(dataset.itemCount) items, \(dataset.train.items.count) train / "
            + "\(dataset.validation.items.count) valid / \(dataset.test.items.count) test interactions, modalities image (32), text (24)")
    }
}
