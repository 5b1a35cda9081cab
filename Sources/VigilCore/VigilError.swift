/// An error the core reports; HTTP maps each code to a status in one place.
public struct VigilError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Code: String, Hashable, Sendable {
        case invalid = "invalid_request"
        case notFound = "not_found"
        case conflict = "conflict"
        case gone = "gone"
        case unavailable = "unavailable"
        case storageFull = "storage_full"
        case internalError = "internal_error"
    }

    /// The kind.
    public let code: Code
    /// A message for the operator; never personal data.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Bad input.
    public static func invalid(_ m: String) -> VigilError { VigilError(.invalid, m) }
    /// No such session.
    public static let sessionNotFound = VigilError(.notFound, "no such session")
    /// The command does not apply in the session's state.
    public static func conflict(_ m: String) -> VigilError { VigilError(.conflict, m) }
    /// The session has ended.
    public static let sessionEnded = VigilError(.conflict, "the session has ended")
    /// The store could not take the write.
    public static func unavailable(_ m: String) -> VigilError { VigilError(.unavailable, m) }
}
