import Foundation
import VigilCore

/// A `format: twilio` target's account: the Messages API request is authenticated with HTTP Basic auth, not signed.
public struct TwilioAccount: Sendable, Hashable {
    /// The account SID (`AC…`): the Basic auth user.
    public var accountSID: String
    /// The auth token: the Basic auth password, and the key of the gateway's signature on status callbacks.
    public var authToken: String
    /// The sending number (E.164), unless a messaging service sends.
    public var from: String?
    /// The messaging service that sends, instead of `from`.
    public var messagingServiceSID: String?
    /// The number that receives summaries (notify steps, `on_delivery_failure`, `alarm_targets`), if any.
    public var to: String?
    /// `public_url` + `/v1/inbound/sms/status`: where the gateway reports what became of each text.
    public var statusCallback: String?

    /// Creates an account.
    public init(
        accountSID: String, authToken: String, from: String? = nil, messagingServiceSID: String? = nil,
        to: String? = nil, statusCallback: String? = nil
    ) {
        self.accountSID = accountSID
        self.authToken = authToken
        self.from = from
        self.messagingServiceSID = messagingServiceSID
        self.to = to
        self.statusCallback = statusCallback
    }

    /// The Messages API URL of the account.
    public static func messagesURL(accountSID: String) -> String {
        "https://api.twilio.com/2010-04-01/Accounts/\(accountSID)/Messages.json"
    }

    /// `Authorization: Basic …` of the account.
    public var authorization: String {
        "Basic " + Data((accountSID + ":" + authToken).utf8).base64EncodedString()
    }
}

/// Turns a stored notification into the form a Twilio Messages API request carries (`To`, `From` or
/// `MessagingServiceSid`, `Body`, `StatusCallback`).
public enum TwilioMessage {
    /// Where a text came from, named in its status callback's query so that the gateway's report finds its session.
    public struct Origin: Sendable, Hashable {
        public var session: SessionID
        public var notification: NotificationID
        public var type: EventType
        public var target: TargetName

        /// Creates an origin.
        public init(session: SessionID, notification: NotificationID, type: EventType, target: TargetName) {
            self.session = session
            self.notification = notification
            self.type = type
            self.target = target
        }

        /// The query of the status callback URL.
        public var query: String {
            [
                ("session", session.rawValue), ("notification", notification.rawValue), ("type", type.rawValue),
                ("target", target.rawValue),
            ].map { $0.0 + "=" + TwilioMessage.encode($0.1) }.joined(separator: "&")
        }
    }

    /// Why a notification cannot become a text.
    public struct RenderError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The longest body the Messages API takes.
    public static let maxBody = 1600

    /// The form-encoded request body for `target`.
    public static func form(_ stored: [UInt8], type: EventType, target: Target, origin: Origin?) throws -> [UInt8] {
        guard let account = target.twilio else { throw RenderError(description: "the target has no Twilio account") }
        let fields = WebhookFields.effective(type, configured: target.fields)
        let envelope = try WebhookFields.projected(stored, type: type, fields: target.fields)
        let data = envelope["data"]
        let to: String?
        let body: String?
        switch type {
        case .responderRequested, .responderCancelled:
            (to, body) = (data?["responder"]?["phone"]?.stringValue, data?["message"]?.stringValue)
        case .personReminder, .personPrompted:
            (to, body) = (data?["to"]?.stringValue, data?["message"]?.stringValue)
        default:
            (to, body) = (account.to, summary(envelope, type: type, fields: fields))
        }
        guard let to, !to.isEmpty else {
            throw RenderError(
                description: "\(type.rawValue) names no number to text (a summary needs to: on the target)")
        }
        guard let body, !body.isEmpty else { throw RenderError(description: "\(type.rawValue) has no text") }
        var params: [(String, String)] = [("To", to)]
        if let sid = account.messagingServiceSID {
            params.append(("MessagingServiceSid", sid))
        } else if let from = account.from {
            params.append(("From", from))
        }
        params.append(("Body", String(body.prefix(maxBody))))
        if let callback = account.statusCallback {
            params.append(("StatusCallback", callback + (origin.map { "?" + $0.query } ?? "")))
        }
        return Array(params.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&").utf8)
    }

    /// The one-line summary of a notification: the alias and what happened; the address only when the target's
    /// fields allow the location.
    public static func summary(_ envelope: JSONValue, type: EventType, fields: Set<SessionField>) -> String {
        let data = envelope["data"]
        let session = data?["session"]
        var what = type.rawValue
        if let step = data?["escalation_step"]?.intValue { what += " (step \(step))" }
        if let reason = data?["reason"]?.stringValue ?? data?["message"]?.stringValue { what += ": " + reason }
        if fields.contains(.location), let address = session?["location"]?["address"]?.stringValue {
            what += " at " + ResponderMessage.addressLine(address, unit: session?["location"]?["unit"]?.stringValue)
        }
        let alias =
            session == nil
            ? "system" : session?["caller"]?["alias"]?.stringValue ?? session?["id"]?.stringValue ?? "a session"
        return PersonTexts.text(
            PersonTexts.summary, language: PersonTexts.defaultLanguage, ["alias": alias, "what": what])
    }

    /// `application/x-www-form-urlencoded` percent-encoding: everything but unreserved characters.
    static func encode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }
}

extension Target {
    /// The Messages API request for a `format: twilio` target: Basic auth, form-encoded, not signed.
    func twilioRequest(body: [UInt8], account: TwilioAccount) -> HTTPRequestSpec {
        HTTPRequestSpec(
            url: url,
            headers: [
                ("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", account.authorization),
                ("Accept", "application/json"),
            ],
            body: body, timeoutMillis: Int(timeout.value), tls: tls, proxy: proxy)
    }
}
