import Foundation
import Testing
import VigilCore
import VigilDelivery

@Suite("format: twilio: a Messages API request per notification, form-encoded, Basic auth, not signed")
struct TwilioMessageTests {
    static let account = TwilioAccount(
        accountSID: "AC0123", authToken: "tok", from: "+18005550100", to: "+15559990000",
        statusCallback: "https://vigil.example.org/v1/inbound/sms/status")

    static func target(fields: Set<SessionField>? = nil) -> Target {
        var t = Target(
            name: "sms", url: TwilioAccount.messagesURL(accountSID: "AC0123"), format: .twilio,
            signer: WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!, fields: fields)
        t.twilio = account
        return t
    }

    static func form(_ bytes: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        for pair in String(decoding: bytes, as: UTF8.self).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            out[kv[0]] = kv.count > 1 ? kv[1] : ""
        }
        return out
    }

    static func envelope(_ type: EventType, _ data: JSONValue) throws -> [UInt8] {
        try VigilJSON.encode(WebhookEnvelope(type: type, timestamp: Timestamp(seconds: 1_795_341_600), data: data))
    }

    static let session: JSONValue = [
        "id": "ses_abc", "state": "escalating",
        "caller": ["alias": "J", "callback_number": "+15551234567"],
        "location": ["address": "123 Main St", "unit": "4B", "access_notes": "side door code 1234"],
        "substance": "fentanyl",
    ]

    @Test("a person's reminder goes to data.to with data.message, and names its status callback with the session")
    func reminder() throws {
        let body = try Self.envelope(
            .personReminder,
            [
                "to": "+15551234567", "message": "Check in here: https://v.example/c/tok Reply OK",
                "session": ["id": "ses_abc", "state": "active", "caller": ["alias": "J"]],
            ])
        let origin = TwilioMessage.Origin(
            session: SessionID(rawValue: "ses_abc"), notification: NotificationID(rawValue: "ntf_1"),
            type: .personReminder, target: "sms")
        let f = Self.form(try TwilioMessage.form(body, type: .personReminder, target: Self.target(), origin: origin))
        #expect(f["To"] == "+15551234567")
        #expect(f["From"] == "+18005550100")
        #expect(f["Body"] == "Check in here: https://v.example/c/tok Reply OK")
        #expect(
            f["StatusCallback"]
                == "https://vigil.example.org/v1/inbound/sms/status?session=ses_abc&notification=ntf_1"
                + "&type=person.reminder&target=sms")
        #expect(f.count == 4)
    }

    @Test("a responder's text carries the address and never the access notes")
    func responder() throws {
        let body = try Self.envelope(
            .responderRequested,
            [
                "responder": ["name": "Sam", "phone": "+15557654321"], "responder_url": "https://v.example/r/t",
                "message": "stored", "message_template": "Hi {name}, go to {address} for {alias}: {link}",
                "location": ["address": "123 Main St", "unit": "4B", "access_notes": "side door code 1234"],
                "session": ["id": "ses_abc", "state": "escalating", "caller": ["alias": "J"]],
            ])
        let f = Self.form(try TwilioMessage.form(body, type: .responderRequested, target: Self.target(), origin: nil))
        #expect(f["To"] == "+15557654321")
        #expect(f["Body"] == "Hi Sam, go to 123 Main St, unit 4B for J: https://v.example/r/t")
        #expect(f["StatusCallback"] == "https://vigil.example.org/v1/inbound/sms/status")
    }

    @Test("a summary goes to the target's to: with the alias and what happened, the address only when allowed")
    func summary() throws {
        let body = try Self.envelope(
            .escalationStep,
            ["reason": "no check-in for 150 s after it was due", "escalation_step": 1, "session": Self.session])
        let plain = Self.form(try TwilioMessage.form(body, type: .escalationStep, target: Self.target(), origin: nil))
        #expect(plain["To"] == "+15559990000")
        #expect(plain["Body"] == "Vigil: J: escalation.step (step 1): no check-in for 150 s after it was due")
        let located = Self.form(
            try TwilioMessage.form(
                body, type: .escalationStep, target: Self.target(fields: [.alias, .location]), origin: nil))
        #expect(located["Body"]?.hasSuffix(" at 123 Main St, unit 4B") == true)
        for f in [plain, located] {
            #expect(!(f["Body"] ?? "").contains("side door"))
            #expect(!(f["Body"] ?? "").contains("fentanyl"))
            #expect(!(f["Body"] ?? "").contains("+1555123"))
        }
    }

    @Test("a summary without to: on the target cannot be rendered")
    func summaryNeedsTo() throws {
        var t = Self.target()
        t.twilio?.to = nil
        let body = try Self.envelope(.testPing, ["message": "test"])
        #expect(throws: TwilioMessage.RenderError.self) {
            try TwilioMessage.form(body, type: .testPing, target: t, origin: nil)
        }
    }

    @Test("the request is Basic-authenticated, form-encoded and carries no Standard Webhooks signature")
    func request() {
        let r = Self.target().request(body: Array("To=%2B1".utf8), webhookID: "msg_1", at: Timestamp(seconds: 1))
        let headers = Dictionary(r.headers.map { ($0.0.lowercased(), $0.1) }, uniquingKeysWith: { a, _ in a })
        #expect(headers["authorization"] == "Basic " + Data("AC0123:tok".utf8).base64EncodedString())
        #expect(headers["content-type"] == "application/x-www-form-urlencoded")
        #expect(headers.keys.allSatisfy { !$0.hasPrefix("webhook-") })
        #expect(r.url == "https://api.twilio.com/2010-04-01/Accounts/AC0123/Messages.json")
    }
}
