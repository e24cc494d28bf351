/// The one error type of the library: a stable code (the C ABI's status) and a message
/// that names what was wrong.
public struct LD4MRecError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Mirrors the LD4MREC_ERR_* codes of Include/ld4mrec.h: append only, never renumber.
    public enum Code: Int32, Sendable {
        case invalidArgument = 1
        case bufferTooSmall = 2
        case io = 3
        case invalidFile = 4
        case unsupportedVersion = 5
        case unknownUser = 6
        case outOfMemory = 7
        case internalError = 8
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    package static func invalidArgument(_ message: String) -> LD4MRecError { .init(.invalidArgument, message) }
    package static func invalidFile(_ message: String) -> LD4MRecError { .init(.invalidFile, message) }
}

/// Multiplies sizes read from files or callers without trapping on overflow.
package func checkedProduct(_ factors: [Int], what: @autoclosure () -> String) throws -> Int {
    var product = 1
    for factor in factors {
        guard factor >= 0 else { throw LD4MRecError(.invalidArgument, "\(what()): negative size \(factor)") }
        let (result, overflow) = product.multipliedReportingOverflow(by: factor)
        guard !overflow, result <= Int(Int32.max) * 64 else {
            throw LD4MRecError(.outOfMemory, "\(what()): size \(factors) is too large")
        }
        product = result
    }
    return product
}
