import Testing
import VigilCore
import VigilDelivery
import VigilRuntime

@Suite("configuration: twilio targets, reminders and prompts")
struct ConfigTextsTests {
    static let env = [
        "OP": "operator-token-0123456789", "EMS": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "TW": "tw-token",
    ]

    static func config(sms: String, policy: String, publicURL: Bool = true, extra: String = "") -> String {
        """
        listen: "127.0.0.1:9090"
        \(publicURL ? "public_url: \"https://vigil.example.org/\"" : "")
        auth:
          tokens:
            - {name: console, role: operator, token_env: OP}
        targets:
          ems: {url: "https://e.example/x", format: json, secret_env: EMS}
          sms: \(sms)
        policies:
          default: \(policy)
        \(extra)
        """
    }

    static let sms = "{format: twilio, account_sid: AC0123, auth_token_env: TW, from: \"+18005550100\"}"
    static let texts =
        "{remind: {before_s: 60, via: sms}, steps: [{after_s: 0, contact: person, via: sms}, "
        + "{after_s: 60, dispatch: [ems]}]}"

    static func errors(_ text: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(text, environment: env, baseDirectory: nil)
            return []
        } catch let e as ConfigErrors {
            return e.issues.map(\.message)
        } catch {
            return ["\(error)"]
        }
    }

    @Test("a twilio target, remind: and a contact: person step are read; the status callback is under public_url")
    func parses() throws {
        let c = try ConfigLoader.parse(
            Self.config(sms: Self.sms, policy: Self.texts), environment: Self.env, baseDirectory: nil)
        let t = try #require(c.targets["sms"])
        #expect(t.format == .twilio)
        #expect(t.url == "https://api.twilio.com/2010-04-01/Accounts/AC0123/Messages.json")
        #expect(t.twilio?.authToken == "tw-token")
        #expect(t.twilio?.from == "+18005550100")
        #expect(t.twilio?.statusCallback == "https://vigil.example.org/v1/inbound/sms/status")
        let p = try #require(c.policies["default"])
        #expect(p.remind == Reminder(before: .seconds(60), via: "sms"))
        #expect(p.steps.first == Step(after: .zero, action: .contactPerson(via: "sms")))
    }

    @Test(
        "what config check refuses",
        arguments: [
            (Self.config(sms: Self.sms, policy: Self.texts, publicURL: false), "texts need public_url"),
            (
                Self.config(sms: "{format: twilio, account_sid: AC0123, auth_token_env: TW}", policy: Self.texts),
                "needs from: (a number) or messaging_service_sid"
            ),
            (
                Self.config(
                    sms: "{format: twilio, account_sid: AC0123, auth_token_env: TW, from: \"+1800\", secret_env: EMS}",
                    policy: Self.texts), "a twilio target is not signed"
            ),
            (Self.config(sms: Self.sms, policy: "{steps: [{after_s: 0, dispatch: [sms]}]}"), "a twilio target, which"),
            (Self.config(sms: Self.sms, policy: "{steps: [{after_s: 0, notify: [sms]}]}"), "without to:"),
            (Self.config(sms: Self.sms, policy: "{steps: []}", extra: "alarm_targets: [sms]"), "without to:"),
            (
                Self.config(sms: Self.sms, policy: "{steps: [{after_s: 0, contact: person, via: sms, answer_s: 3}]}"),
                "not answer_s"
            ),
            (Self.config(sms: Self.sms, policy: "{remind: {before_s: 60, via: nope}, steps: []}"), "unknown target"),
            (
                Self.config(
                    sms: "{url: \"https://g.example/x\", format: json, secret_env: EMS, account_sid: AC1}",
                    policy: "{steps: []}"), "only for format: twilio"
            ),
        ])
    func refuses(_ text: String, _ expected: String) {
        let errors = Self.errors(text)
        #expect(errors.contains { $0.contains(expected) }, "\(errors)")
    }

    @Test("with to: a twilio target may be notified, told of failed deliveries and receive alarms")
    func summaries() {
        let sms =
            "{format: twilio, account_sid: AC0123, auth_token_env: TW, from: \"+18005550100\", to: \"+15559990000\"}"
        let text = Self.config(
            sms: sms, policy: "{on_delivery_failure: [sms], steps: [{after_s: 0, notify: [sms]}]}",
            extra: "alarm_targets: [sms]")
        #expect(Self.errors(text) == [])
    }
}
