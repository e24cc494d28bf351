/// A recommendation dataset: train, validation and test interactions of users with items,
/// and raw item features per modality. Users and items are dense rows from 0. (The
/// MMRec folder layout it is read from and written to is Storage's business.)
public struct Dataset: Sendable {
    public let name: String
    public let userCount: Int
    public let itemCount: Int
    /// Per-user item rows (ascending) of each split.
    public let train: CSRHistories
    public let validation: CSRHistories
    public let test: CSRHistories
    /// Raw item features per modality, as read.
    public let modalities: [Modality]
    /// Repeated (user, item) lines dropped while reading (the first one is kept).
    public let duplicatesDropped: Int

    public enum Split: String, CaseIterable, Sendable { case train, valid, test }

    public func interactions(_ split: Split) -> CSRHistories {
        switch split {
        case .train: return train
        case .valid: return validation
        case .test: return test
        }
    }

    public init(name: String, userCount: Int, itemCount: Int, train: CSRHistories, validation: CSRHistories,
                test: CSRHistories, modalities: [Modality], duplicatesDropped: Int = 0) {
        self.name = name
        self.userCount = userCount
        self.itemCount = itemCount
        self.train = train
        self.validation = validation
        self.test = test
        self.modalities = modalities
        self.duplicatesDropped = duplicatesDropped
    }
}
