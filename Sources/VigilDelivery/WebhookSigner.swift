import Crypto
import Foundation

/// Signs deliveries as the Standard Webhooks specification says.
public struct WebhookSigner: Sendable {
    private let key: SymmetricKey
    /// The secret being retired during a rotation: every attempt also carries its signature, so a receiver that
    /// still knows only that secret keeps verifying until it is given the new one.
    private let previousKey: SymmetricKey?

    /// A signer from a `whsec_<base64>` secret; nil when the secret is malformed.
    public init?(secret: String) {
        guard let key = Self.key(secret) else { return nil }
        self.key = key
        self.previousKey = nil
    }

    /// A signer for a secret rotation: signs with `secret` and with `previous`; nil when either is malformed.
    public init?(secret: String, previous: String) {
        guard let key = Self.key(secret), let old = Self.key(previous) else { return nil }
        self.key = key
        self.previousKey = old
    }

    /// Whether a previous secret is configured beside the current one.
    public var isRotating: Bool { previousKey != nil }

    private static func key(_ secret: String) -> SymmetricKey? {
        let trimmed = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        let encoded = trimmed.hasPrefix("whsec_") ? String(trimmed.dropFirst(6)) : trimmed
        guard let bytes = Data(base64Encoded: encoded), bytes.count >= 16 else { return nil }
        return SymmetricKey(data: bytes)
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`; during a rotation the current secret's signature,
    /// a space, and the previous secret's (Standard Webhooks lets a header carry several).
    public func signature(id: String, timestamp: Int64, body: [UInt8]) -> String {
        var message = Array("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        let current = Self.sign(message, key)
        guard let previousKey else { return current }
        return current + " " + Self.sign(message, previousKey)
    }

    private static func sign(_ message: [UInt8], _ key: SymmetricKey) -> String {
        "v1," + Data(HMAC<SHA256>.authenticationCode(for: message, using: key)).base64EncodedString()
    }

    /// The three Standard Webhooks headers for one attempt.
    public func headers(id: String, timestamp: Int64, body: [UInt8]) -> [(String, String)] {
        [
            ("webhook-id", id), ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", signature(id: id, timestamp: timestamp, body: body)),
        ]
    }
}
