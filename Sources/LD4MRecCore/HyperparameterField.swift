/// A hyperparameter's value as the model file stores it: integers (flags as 0/1, seeds
/// with their 64 bits), reals, or text (choices).
public enum HyperparameterValue: Sendable, Equatable, CustomStringConvertible {
    case integer(Int64)
    case real(Double)
    case text(String)

    public var description: String {
        switch self {
        case .integer(let value): return "\(value)"
        case .real(let value): return "\(value)"
        case .text(let value): return value
        }
    }
}

/// An interval of reals with open or closed ends.
public struct RealBounds: Sendable, Equatable, CustomStringConvertible {
    public let lower: Double, upper: Double
    public let lowerClosed: Bool, upperClosed: Bool

    public static func closed(_ a: Double, _ b: Double) -> RealBounds { .init(lower: a, upper: b, lowerClosed: true, upperClosed: true) }
    public static func closedOpen(_ a: Double, _ b: Double) -> RealBounds { .init(lower: a, upper: b, lowerClosed: true, upperClosed: false) }
    public static func openClosed(_ a: Double, _ b: Double) -> RealBounds { .init(lower: a, upper: b, lowerClosed: false, upperClosed: true) }
    public static let positive = RealBounds(lower: 0, upper: .infinity, lowerClosed: false, upperClosed: false)
    public static let nonNegative = RealBounds(lower: 0, upper: .infinity, lowerClosed: true, upperClosed: false)

    public func contains(_ x: Double) -> Bool {
        x.isFinite && (lowerClosed ? x >= lower : x > lower) && (upperClosed ? x <= upper : x < upper)
    }

    public var description: String {
        "\(lowerClosed ? "[" : "(")\(lower), \(upper == .infinity ? "inf" : "\(upper)")\(upperClosed ? "]" : ")")"
    }
}

/// One row of `Hyperparameters.fields`: how a hyperparameter is named in the model file,
/// which values it takes, and how to read and write it in a `Hyperparameters` value.
/// (@unchecked: the stored closures only capture immutable key paths.)
public struct HyperparameterField: @unchecked Sendable {
    /// Architecture fields are required in a model file and checked strictly; training
    /// fields are optional records of how the model was made.
    public enum Role: Sendable { case architecture, training }

    public enum Kind: Sendable, Equatable {
        case integer(ClosedRange<Int>)
        case real(RealBounds)
        /// One of the raw values, in order.
        case choice([String])
        /// A boolean, stored as 0 or 1; on the command line, an option without a value.
        case flag
        /// A UInt64 stored with the same bits in an int64.
        case seed
    }

    /// The attribute in the model file (also the key of `ld4mrec inspect`).
    public let name: String
    /// The long option of `ld4mrec train`, if it has one.
    public let option: String?
    public let help: String
    public let role: Role
    public let kind: Kind
    /// May be absent (no value): `ensemble_weight` before it is chosen.
    public let isOptional: Bool
    /// Integers a model file may record for a training field (the trainer may require
    /// fewer, e.g. max_epochs 0 is recorded but not trained with).
    public let fileRange: ClosedRange<Int>?
    /// What a model file without the attribute means.
    public let whenAbsent: HyperparameterValue?

    private let get: (Hyperparameters) -> HyperparameterValue?
    private let set: (HyperparameterField, inout Hyperparameters, HyperparameterValue?) throws -> Void

    /// The value of this field in `h` (nil: an optional field without a value).
    public func value(in h: Hyperparameters) -> HyperparameterValue? { get(h) }

    /// Sets this field of `h`, converting and checking the value's type and, for choices,
    /// its case (ranges are checked by `validate`).
    public func assign(_ value: HyperparameterValue?, to h: inout Hyperparameters) throws { try set(self, &h, value) }

    /// Checks this field of `h` against its allowed values.
    public func validate(_ h: Hyperparameters) throws {
        guard let value = get(h) else { return }
        switch (kind, value) {
        case (.integer(let range), .integer(let x)):
            guard x >= Int64(range.lowerBound), x <= Int64(range.upperBound) else { throw outside(value) }
        case (.real(let bounds), .real(let x)):
            guard bounds.contains(x) else { throw outside(value) }
        default:
            return  // choices, flags and seeds hold valid values by construction
        }
    }

    /// The allowed values, as the messages and `train --help` show them.
    public var allowedValues: String {
        switch kind {
        case .integer(let range): return "\(range.lowerBound) ... \(range.upperBound)"
        case .real(let bounds): return bounds.description
        case .choice(let cases): return cases.joined(separator: " | ")
        case .flag: return "flag"
        case .seed: return "0 ... \(UInt64.max)"
        }
    }

    /// Parses a command-line value (`option`'s argument).
    public func parse(_ text: String) throws -> HyperparameterValue {
        func bad() -> LD4MRecError { .invalidArgument("\(name): '\(text)' is not one of \(allowedValues)") }
        switch kind {
        case .integer:
            guard let x = Int64(text) else { throw bad() }
            return .integer(x)
        case .real:
            guard let x = Double(text), x.isFinite else { throw bad() }
            return .real(x)
        case .choice(let cases):
            guard cases.contains(text) else { throw bad() }
            return .text(text)
        case .flag:
            guard let x = ["true": 1, "1": 1, "false": 0, "0": 0][text] else { throw bad() }
            return .integer(Int64(x))
        case .seed:
            guard let x = UInt64(text) else { throw bad() }
            return .integer(Int64(bitPattern: x))
        }
    }

    private func outside(_ value: HyperparameterValue) -> LD4MRecError {
        .invalidArgument("\(name) must be in \(allowedValues), got \(value)")
    }

    private func wrongType(_ value: HyperparameterValue?) -> LD4MRecError {
        .invalidArgument("\(name): \(value.map { "'\($0)'" } ?? "no value") is not one of \(allowedValues)")
    }

    private init(_ name: String, _ kind: Kind, _ role: Role, option: String?, _ help: String, isOptional: Bool = false,
                 fileRange: ClosedRange<Int>? = nil, whenAbsent: HyperparameterValue? = nil,
                 get: @escaping (Hyperparameters) -> HyperparameterValue?,
                 set: @escaping (HyperparameterField, inout Hyperparameters, HyperparameterValue?) throws -> Void) {
        self.name = name
        self.kind = kind
        self.role = role
        self.option = option
        self.help = help
        self.isOptional = isOptional
        self.fileRange = fileRange
        self.get = get
        self.set = set
        self.whenAbsent = whenAbsent ?? get(Hyperparameters())
    }
}

// The constructors `Hyperparameters.fields` is written with.
extension HyperparameterField {
    static func integer(_ name: String, _ path: WritableKeyPath<Hyperparameters, Int>, _ range: ClosedRange<Int>,
                        _ role: Role, option: String?, _ help: String, fileRange: ClosedRange<Int>? = nil) -> Self {
        Self(name, .integer(range), role, option: option, help, fileRange: fileRange ?? range,
             get: { .integer(Int64($0[keyPath: path])) },
             set: { field, h, value in
                 guard case .integer(let x) = value, let exact = Int(exactly: x) else { throw field.wrongType(value) }
                 h[keyPath: path] = exact
             })
    }

    static func real(_ name: String, _ path: WritableKeyPath<Hyperparameters, Double>, _ bounds: RealBounds,
                     _ role: Role, option: String?, _ help: String, whenAbsent: Double? = nil) -> Self {
        Self(name, .real(bounds), role, option: option, help, whenAbsent: whenAbsent.map { .real($0) },
             get: { .real($0[keyPath: path]) },
             set: { field, h, value in h[keyPath: path] = try field.finiteReal(value) })
    }

    static func optionalReal(_ name: String, _ path: WritableKeyPath<Hyperparameters, Double?>, _ bounds: RealBounds,
                             _ role: Role, option: String?, _ help: String) -> Self {
        Self(name, .real(bounds), role, option: option, help, isOptional: true,
             get: { $0[keyPath: path].map { .real($0) } },
             set: { field, h, value in h[keyPath: path] = try value.map { try field.finiteReal($0) } })
    }

    static func choice<T: RawRepresentable & CaseIterable>(
        _ name: String, _ path: WritableKeyPath<Hyperparameters, T>, _ role: Role, option: String?, _ help: String,
        whenAbsent: T? = nil
    ) -> Self where T.RawValue == String {
        Self(name, .choice(T.allCases.map(\.rawValue)), role, option: option, help,
             whenAbsent: whenAbsent.map { .text($0.rawValue) },
             get: { .text($0[keyPath: path].rawValue) },
             set: { field, h, value in
                 guard case .text(let text) = value, let choice = T(rawValue: text) else { throw field.wrongType(value) }
                 h[keyPath: path] = choice
             })
    }

    static func flag(_ name: String, _ path: WritableKeyPath<Hyperparameters, Bool>, _ role: Role,
                     option: String?, _ help: String) -> Self {
        Self(name, .flag, role, option: option, help, fileRange: 0 ... 1,
             get: { .integer($0[keyPath: path] ? 1 : 0) },
             set: { field, h, value in
                 guard case .integer(let x) = value, x == 0 || x == 1 else { throw field.wrongType(value) }
                 h[keyPath: path] = x == 1
             })
    }

    static func seed(_ name: String, _ path: WritableKeyPath<Hyperparameters, UInt64>, _ role: Role,
                     option: String?, _ help: String) -> Self {
        Self(name, .seed, role, option: option, help,
             get: { .integer(Int64(bitPattern: $0[keyPath: path])) },
             set: { field, h, value in
                 guard case .integer(let bits) = value else { throw field.wrongType(value) }
                 h[keyPath: path] = UInt64(bitPattern: bits)
             })
    }

    private func finiteReal(_ value: HyperparameterValue?) throws -> Double {
        switch value {
        case .real(let x) where x.isFinite: return x
        case .integer(let x): return Double(x)  // an integral attribute is a fine real
        default: throw wrongType(value)
        }
    }
}
