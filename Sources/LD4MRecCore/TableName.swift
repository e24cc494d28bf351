/// The name of every table of a model: its path in the model file (docs/FORMAT.md).
/// Validation messages use the same names, so that they read alike for a file and for
/// parameters built in memory.
public enum TableName {
    public static let itemIDs = "/ids/items"
    public static let userIDs = "/ids/users"
    public static let svdItemFactors = "/signals/svd_item_factors"
    public static let svdSingularValues = "/signals/svd_singular_values"
    public static let itemDegrees = "/signals/item_degrees"
    public static let itemItem = "/signals/item_item"
    /// The sparse prior: a group with `offsets`, `columns` and `values` (CSR).
    public static let itemItemSparse = "/signals/item_item_sparse"
    public static func modality(_ m: Int) -> String { "/modalities/\(m)" }
    public static func features(_ m: Int) -> String { "/modalities/\(m)/features" }
    public static let input = "/cnet/input"
    public static let output = "/cnet/output"
    public static func block(_ s: Int) -> String { "/cnet/blocks/\(s)" }
    public static func cgHidden(_ s: Int) -> String { "\(block(s))/cg/hidden" }
    public static func cgCondition(_ s: Int) -> String { "\(block(s))/cg/condition" }
    public static func cgGate(_ s: Int) -> String { "\(block(s))/cg/gate" }
    public static func filmScale(_ s: Int, _ m: Int) -> String { "\(block(s))/film/\(m)/scale" }
    public static func filmShift(_ s: Int, _ m: Int) -> String { "\(block(s))/film/\(m)/shift" }
    public static let zIn = "/users/z_in"
    public static let zInDefault = "/users/z_in_default"
    public static let historyOffsets = "/histories/offsets"
    public static let historyItems = "/histories/items"
}
