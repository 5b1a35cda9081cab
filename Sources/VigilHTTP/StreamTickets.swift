import Crypto
import Foundation
import Synchronization
import VigilCore

/// Short-lived, single-use tickets for the event stream.
///
/// A browser's `EventSource` cannot send an `Authorization` header, and a bearer token in a URL ends up in proxy
/// logs. The console instead asks `POST /v1/events/ticket` (with its bearer token) for a ticket that opens one
/// stream within 30 seconds, once. A ticket is `payload.mac`: the token's name, role and expiry, authenticated
/// with HMAC-SHA256 under a key every instance derives from the same secret, so any instance can open it.
public final class StreamTickets: Sendable {
    /// How long a ticket may wait before it opens a stream.
    public static let lifetime = Millis.seconds(30)

    private let key: SymmetricKey
    private let used = Mutex<[String: Timestamp]>([:])

    /// Creates tickets under `secret` (at least 32 bytes).
    public init(secret: [UInt8]) {
        key = SymmetricKey(
            data: HMAC<SHA256>.authenticationCode(
                for: Array("vigil stream tickets".utf8), using: SymmetricKey(data: secret)))
    }

    /// A ticket for `principal`, valid from `now` for `lifetime`.
    public func issue(for principal: Principal, at now: Timestamp) -> String {
        var nonce = [UInt8](repeating: 0, count: 16)
        for i in nonce.indices { nonce[i] = UInt8.random(in: 0...255) }
        let payload = [
            principal.name, principal.role.rawValue, String((now + Self.lifetime).millis),
            Data(nonce).base64URL,
        ].map { Data($0.utf8).base64URL }.joined(separator: "~")
        let mac = Data(HMAC<SHA256>.authenticationCode(for: Array(payload.utf8), using: key)).base64URL
        return payload + "." + mac
    }

    /// The principal a ticket was issued to, once: nil if it is forged, expired or already used.
    public func redeem(_ ticket: String, at now: Timestamp, roles: (String) -> Role?) -> Principal? {
        guard ticket.utf8.count <= 1024 else { return nil }
        let parts = ticket.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = Data(base64URL: String(parts[1])) else { return nil }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Array(parts[0].utf8), using: key) else {
            return nil
        }
        let fields = parts[0].split(separator: "~", omittingEmptySubsequences: false).map {
            Data(base64URL: String($0)).map { String(decoding: $0, as: UTF8.self) }
        }
        guard fields.count == 4, let name = fields[0], let roleText = fields[1], let expiryText = fields[2],
            let nonce = fields[3], let expiry = Int64(expiryText), let role = Role(rawValue: roleText),
            roles(name) == role, now.millis <= expiry
        else { return nil }
        let fresh = used.withLock { u -> Bool in
            u = u.filter { $0.value.millis >= now.millis }
            return u.updateValue(Timestamp(millis: expiry), forKey: nonce) == nil
        }
        return fresh ? Principal(name: name, role: role) : nil
    }
}

extension Data {
    /// Base64url without padding.
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes base64url without padding; nil when malformed.
    init?(base64URL text: String) {
        guard text.utf8.allSatisfy({ $0 < 128 }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.utf8.count % 4 != 0 { s += "=" }
        self.init(base64Encoded: s)
    }
}
