import Crypto
import Foundation
import Hummingbird
import Logging
import VigilCore

/// `POST /v1/inbound/sms/status`: what the SMS gateway later reports of a text it took (its `StatusCallback`),
/// authenticated by `X-Twilio-Signature` as inbound texts are, keyed with any configured Twilio auth token.
public final class InboundSMSStatus: Sendable {
    /// The auth tokens that may key the signature (the `sms:` block's and each twilio target's).
    let authTokens: [[UInt8]]
    /// `public_url` without a trailing slash.
    let publicURL: String

    /// Creates the endpoint's state.
    public init(authTokens: [String], publicURL: String) {
        self.authTokens = authTokens.map { Array($0.utf8) }
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
    }

    /// Whether `presented` is the gateway's signature of the URL and parameters under one of the tokens.
    func verifies(_ presented: [UInt8], url: String, params: [(String, String)]) -> Bool {
        guard !presented.isEmpty else { return false }
        var ok = false
        for token in authTokens {
            let expected = Array(InboundSMS.signature(url: url, params: params, key: token).utf8)
            if TokenAuthenticator.constantTimeEquals(presented, expected) { ok = true }
        }
        return ok
    }

    static func receive(_ req: Request, _ env: APIEnvironment) async throws -> Response {
        guard let endpoint = env.smsStatus else { throw VigilError(.notFound, "texts are not configured") }
        var req = req
        let bytes = try await VigilAPI.body(&req)
        guard let params = InboundSMS.form(bytes) else { throw VigilError.invalid("the body must be form-encoded") }
        let query = req.uri.query ?? ""
        let url = endpoint.publicURL + "/v1/inbound/sms/status" + (query.isEmpty ? "" : "?" + query)
        let presented = Array((req.headers[.init("X-Twilio-Signature")!] ?? "").utf8)
        guard endpoint.verifies(presented, url: url, params: params) else {
            env.logger.warning("text status refused: missing or wrong signature")
            throw APIError(
                status: .forbidden, code: "forbidden", message: "the X-Twilio-Signature is missing or wrong")
        }
        let value = { (name: String) in params.first { $0.0 == name }?.1 }
        let origin = InboundSMS.form(Array(query.utf8)) ?? []
        let from = { (name: String) in origin.first { $0.0 == name }?.1 }
        guard let raw = value("MessageStatus") ?? value("SmsStatus"),
            let status = TextStatusReport.Status(rawValue: raw.lowercased())
        else { return Response(status: .noContent) }
        guard let session = from("session").flatMap({ SessionID(validating: $0) }),
            let notification = from("notification").flatMap(plain).map(NotificationID.init(rawValue:))
        else {
            // A text of no session (a system alarm to a supervisor's phone): only the log can say it failed.
            if status != .delivered { env.logger.error("a text of no session was not delivered", metadata: [:]) }
            return Response(status: .noContent)
        }
        let report = TextStatusReport(
            status: status, notification: notification, type: from("type").flatMap { EventType(rawValue: $0) },
            target: from("target").flatMap(plain).map(TargetName.init(rawValue:)),
            errorCode: value("ErrorCode").map { String($0.prefix(16)) })
        var meta: Logger.Metadata = ["session": "\(session)", "notification": "\(notification)", "status": "\(raw)"]
        let apply = {
            try await env.engine.execute(session, .textStatus(report), actor: Actor(name: "sms", role: "sms"))
            if status == .delivered {
                env.logger.info("text delivered", metadata: meta)
            } else {
                env.logger.error("text not delivered", metadata: meta)
            }
            return IdempotentResponse(status: 204, contentType: "text/plain", body: [])
        }
        do {
            // One report per text and status across every instance (the gateway retries, a captured request
            // replays): remembered in the store for a day, like inbound texts.
            if let sid = value("MessageSid"), let keys = env.store as? any IdempotencyStore {
                let entry = IdempotencyEntry.of(
                    scope: "sms-status", key: "\(sid.prefix(64)):\(status.rawValue)", fingerprint: "sms")
                _ = try await InboundSMS.remembered(entry, keys, env, busy: "this report is still being handled", apply)
            } else {
                _ = try await apply()
            }
        } catch let e as VigilError where e.code == .notFound || e.code == .conflict {
            meta["reason"] = "\(e.message)"
            env.logger.warning("text status for a session that is not open", metadata: meta)
        }
        return Response(status: .noContent)
    }

    /// A name or id from the callback's query: letters, digits, `_`, `-`, `.`, at most 128 characters.
    static func plain(_ s: String) -> String? {
        guard !s.isEmpty, s.utf8.count <= 128,
            s.unicodeScalars.allSatisfy({
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_-.".unicodeScalars.contains($0))
            })
        else { return nil }
        return s
    }
}
