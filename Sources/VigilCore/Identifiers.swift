/// A session's identifier, `ses_` followed by random base-32 characters.
public struct SessionID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The identifier's text.
    public var rawValue: String

    /// Wraps a raw identifier without checking it.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Parses an identifier from a request path; nil unless it has the exact shape Vigil issues.
    public init?(validating text: String) {
        guard text.hasPrefix("ses_"), text.utf8.count <= 64, text.utf8.count > 4,
            text.utf8.dropFirst(4).allSatisfy({ IDGenerator.alphabet.utf8.contains($0) })
        else { return nil }
        self.rawValue = text
    }

    public var description: String { rawValue }
    public static func < (a: SessionID, b: SessionID) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// An outbox notification's identifier, `ntf_…`; each target it goes to has its own webhook id.
public struct NotificationID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The identifier's text.
    public var rawValue: String
    /// Wraps a raw identifier.
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A name that is text on the wire and in storage but must not be mixed up with other text: a target's name is not
/// a webhook id, and neither is an operator's name. Each conformer encodes as its bare string.
public protocol StringIdentifier: RawRepresentable<String>, Hashable, Comparable, Sendable, Codable,
    CodingKeyRepresentable, CustomStringConvertible, ExpressibleByStringLiteral
{
    init(rawValue: String)
}

extension StringIdentifier {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A webhook target's name, as configured under `targets:` (`dispatch-primary`, `ops-pager`).
public struct TargetName: StringIdentifier {
    /// The name's text.
    public var rawValue: String
    /// Wraps a configured name.
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// One webhook's id, `msg_…`: the `webhook-id` header, the same on every retry to one target, and the reference a
/// later message of the same escalation carries.
public struct WebhookID: StringIdentifier {
    /// The id's text.
    public var rawValue: String
    /// Wraps an id.
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// Who acted: an operator's (a token's) name, or the channel that acted for the person or for the service
/// (`ladder`, `responder`, `sms`, `console`). Recorded as `by` on the timeline; never personal data.
public struct ActorName: StringIdentifier {
    /// The name's text.
    public var rawValue: String
    /// Wraps a name.
    public init(rawValue: String) { self.rawValue = rawValue }
}

extension Array where Element: StringIdentifier {
    /// The bare texts, in order.
    public var rawValues: [String] { map(\.rawValue) }
}

/// Makes random identifiers and tokens; tests substitute a deterministic source.
public struct IDGenerator: Sendable {
    /// Crockford's base-32 alphabet in lower case: no ambiguous letters, safe in URLs.
    public static let alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

    private let next: @Sendable (Int) -> [UInt8]

    /// A generator backed by the system's cryptographic random source.
    public static let system = IDGenerator { count in
        var g = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    /// A generator over a caller-supplied byte source.
    public init(bytes: @escaping @Sendable (Int) -> [UInt8]) { self.next = bytes }

    /// `prefix` followed by `chars` random base-32 characters (5 bits each).
    public func make(_ prefix: String, chars: Int = 26) -> String {
        let alphabet = Array(IDGenerator.alphabet)
        let bytes = next(chars)
        return prefix + String(bytes.map { alphabet[Int($0) & 31] })
    }

    /// A new session id (130 random bits).
    public func sessionID() -> SessionID { SessionID(rawValue: make("ses_")) }
    /// A new notification id.
    public func notificationID() -> NotificationID { NotificationID(rawValue: make("ntf_")) }
    /// A new webhook id, as sent in the `webhook-id` header.
    public func webhookID() -> WebhookID { WebhookID(rawValue: make("msg_")) }
    /// A check-in link token: 32 base-32 characters, 160 random bits.
    public func checkInToken() -> String { make("", chars: 32) }
}
