import Testing
import VigilCore
import VigilRuntime

@Suite("configuration: responders, mass lapse, texts")
struct ConfigResponderTests {
    static let env = [
        "OP": "operator-token-0123456789", "EMS": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "TW": "twilio-token",
    ]

    static func config(_ extra: String, policy: String, publicURL: Bool = true) -> String {
        """
        listen: "127.0.0.1:9090"
        \(publicURL ? "public_url: \"https://vigil.example.org\"" : "")
        auth:
          tokens:
            - {name: console, role: operator, token_env: OP}
        targets:
          ems: {url: "https://e.example/x", format: json, secret_env: EMS}
          gw: {url: "https://g.example/x", format: json, secret_env: EMS}
        policies:
          default: \(policy)
        \(extra)
        """
    }

    static let friendFirst =
        "{going_pause_s: 120, hold_dispatch_on_mass_lapse_s: 30, steps: [{after_s: 0, contact: responders, via: gw, "
        + "answer_s: 45}, {after_s: 180, dispatch: [ems]}]}"

    @Test("a contact step, going_pause_s, the hold and mass_lapse are read; links start from public_url")
    func parses() throws {
        let c = try ConfigLoader.parse(
            Self.config("mass_lapse: {sessions: 20, within_s: 30, notify: [gw]}", policy: Self.friendFirst),
            environment: Self.env, baseDirectory: nil)
        let p = try #require(c.policies["default"])
        #expect(p.steps.first == Step(after: .zero, action: .contactResponders(via: "gw", answer: .seconds(45))))
        #expect(p.goingPause == .seconds(120))
        #expect(p.holdDispatchOnMassLapse == .seconds(30))
        #expect(p.linkBase == "https://vigil.example.org")
        #expect(c.massLapse == MassLapseSettings(sessions: 20, within: .seconds(30)))
        #expect(c.massLapseNotify == ["gw"])
    }

    @Test("mass lapse is on by default: more than 10 sessions within 60 s")
    func massLapseDefault() throws {
        let c = try ConfigLoader.parse(
            Self.config("", policy: "{steps: []}"), environment: Self.env, baseDirectory: nil)
        #expect(c.massLapse == MassLapseSettings(sessions: 10, within: .seconds(60)))
        #expect(c.massLapseNotify == nil)
    }

    @Test(
        "mistakes are refused with a message naming them",
        arguments: [
            (config("", policy: friendFirst, publicURL: false), "needs public_url"),
            (config("", policy: "{steps: [{after_s: 0, contact: responders, via: nobody}]}"), "unknown target"),
            (config("", policy: "{steps: [{after_s: 0, contact: people, via: gw}]}"), "contact must be responders"),
            (config("", policy: "{steps: [{after_s: 0, contact: responders}]}"), "needs via"),
            (config("", policy: "{responder_message: \"come now\", steps: []}"), "must contain {link}"),
            (config("mass_lapse: {sessions: -1}", policy: "{steps: []}"), "mass_lapse.sessions"),
            (config("mass_lapse: {notify: [nobody]}", policy: "{steps: []}"), "unknown target"),
            (
                config("sms: {provider: twilio, auth_token_env: TW}", policy: "{steps: []}", publicURL: false),
                "public_url"
            ),
            (config("sms: {provider: vonage, auth_token_env: TW}", policy: "{steps: []}"), "twilio"),
            (config("sms: {provider: twilio, auth_token: x}", policy: "{steps: []}"), "never written in the file"),
        ])
    func refused(text: String, message: String) {
        do {
            _ = try ConfigLoader.parse(text, environment: Self.env, baseDirectory: nil)
            Issue.record("accepted: \(message)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }
}
