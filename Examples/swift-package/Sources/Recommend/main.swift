// Recommends for the first user of a model file with the LD4MRec Swift API, after adding
// two fresh interactions to their history.
//
//   swift run recommend MODEL.h5
import LD4MRec

#if canImport(Glibc)
import Glibc
#endif

guard CommandLine.arguments.count == 2 else {
    print("usage: recommend MODEL.h5")
    exit(2)
}

do {
    let model = try Model(contentsOf: CommandLine.arguments[1])
    let store = HistoryStore(model: model, trainingHistories: true)
    guard let user = model.userIDs.first else {
        print("the model has no training histories")
        exit(1)
    }
    store.add(user: user, items: Array(model.catalogue.ids.prefix(2)))
    print("top 10 for user \(user) of a model of \(model.itemCount) items:")
    for (rank, r) in try model.recommend(model.query(user: user, in: store), k: 10).enumerated() {
        print("  \(rank + 1). item \(r.itemID)  score \(r.score)")
    }
} catch let error as LD4MRecError {
    print("error: \(error.message)")
    exit(1)
}
