// Recommends with the LD4MRec Swift API: load a model, keep histories up to date in a
// store, ask for top-K and for candidate scores.
//
//   swift run -c release SwiftExample MODEL.h5
import LD4MRec
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    print("usage: SwiftExample MODEL.h5")
    exit(2)
}

do {
    let model = try Model(contentsOf: arguments[1])
    print("model: \(model.itemCount) items, \(model.userIDs.count) users, modalities \(model.modalityNames)")

    // A store starting from the training histories in the model file.
    let store = HistoryStore(model: model, trainingHistories: true)
    let user = model.userIDs.first ?? 1
    let newItems = Array(model.catalogue.ids.suffix(2))
    let unknown = store.add(user: user, items: newItems + [-42])  // -42 is not in the catalogue
    print("user \(user): \(store.history(of: user)?.count ?? 0) items in history (\(unknown) unknown to the model, kept)")

    print("top 10 for user \(user):")
    for (rank, r) in try model.recommend(model.query(user: user, in: store), k: 10).enumerated() {
        print("  \(rank + 1). item \(r.itemID)  score \(r.score)")
    }

    // Stateless: a history kept by the caller, re-ranking a few candidates.
    let history = Array(model.catalogue.ids.prefix(3))
    let candidates = Array(model.catalogue.ids[10 ..< 15])
    let (scores, _) = try model.scores(model.query(history: history), candidates: candidates)
    print("candidate scores for history \(history):")
    for (item, score) in zip(candidates, scores).sorted(by: { $0.1 > $1.1 }) {
        print("  item \(item)  score \(score)")
    }
} catch let error as LD4MRecError {
    print("error: \(error.message)")
    exit(1)
}

