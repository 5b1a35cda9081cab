import Crypto
import Foundation

/// Signs deliveries as the Standard Webhooks specification says.
public struct WebhookSigner: Sendable {
    private let key: SymmetricKey

    /// A signer from a `whsec_<base64>` secret; nil when the secret is malformed.
    public init?(secret: String) {
        let trimmed = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        let encoded = trimmed.hasPrefix("whsec_") ? String(trimmed.dropFirst(6)) : trimmed
        guard let bytes = Data(base64Encoded: encoded), bytes.count >= 16 else { return nil }
        key = SymmetricKey(data: bytes)
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    public func signature(id: String, timestamp: Int64, body: [UInt8]) -> String {
        var message = Array("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The three Standard Webhooks headers for one attempt.
    public func headers(id: String, timestamp: Int64, body: [UInt8]) -> [(String, String)] {
        [
            ("webhook-id", id), ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", signature(id: id, timestamp: timestamp, body: body)),
        ]
    }
}
