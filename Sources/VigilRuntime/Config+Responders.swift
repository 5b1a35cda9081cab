import VigilCore
import Yams

extension ConfigLoader.Parser {
    /// Policy keys of response plans.
    static let responderPolicyKeys: Set<String> = [
        "going_pause_s", "responder_message", "hold_dispatch_on_mass_lapse_s",
    ]
    /// Keys of a `contact: responders` step.
    static let contactStepKeys: Set<String> = ["contact", "via", "answer_s"]

    /// Reads `going_pause_s` or `responder_message` into `p`.
    mutating func responderPolicy(_ key: String, _ n: Node, _ place: String, into p: inout Policy) {
        switch key {
        case "going_pause_s":
            if let d = duration(n, "\(place).going_pause_s", min: 1, max: 86_400) { p.goingPause = d }
        case "hold_dispatch_on_mass_lapse_s":
            if let d = duration(n, "\(place).hold_dispatch_on_mass_lapse_s", min: 0, max: 3600) {
                p.holdDispatchOnMassLapse = d
            }
        default:
            guard let text = string(n, "\(place).responder_message") else { return }
            if !text.contains("{link}") {
                fail(n, "\(place).responder_message must contain {link}: the responder answers through it")
            } else if text.count > 320 {
                fail(n, "\(place).responder_message must be at most 320 characters (one short text)")
            } else if let problem = CharacterPolicy.problem(in: text) {
                fail(n, "\(place).responder_message \(problem)")
            } else {
                p.responderMessage = text
            }
        }
    }

    /// `{after_s, contact: responders, via: TARGET, answer_s}`.
    mutating func contactStep(
        _ f: [(String, Node, Node)], _ owner: Node, _ place: String, targets: Set<TargetName>
    )
        -> Step?
    {
        var after = Millis.zero
        var via: TargetName?
        var answer = Millis.seconds(90)
        var ok = true
        let person = f.contains { $0.0 == "contact" && $0.2.scalar?.string == "person" }
        for (k, kn, v) in f {
            switch k {
            case "after_s":
                if let d = duration(v, "\(place).after_s", min: 0, max: 86400) { after = d } else { ok = false }
            case "contact":
                if v.scalar?.string != "responders" && !person {
                    fail(v, "\(place).contact must be responders or person")
                    ok = false
                }
            case "answer_s" where person:
                fail(kn, "\(place): a contact: person step takes after_s, contact and via, not answer_s")
                ok = false
            case "via":
                guard let t = v.scalar.map({ TargetName(rawValue: $0.string) }), !t.rawValue.isEmpty else {
                    fail(v, "\(place).via must name a target (an SMS or voice gateway)")
                    ok = false
                    continue
                }
                if !targets.contains(t) {
                    fail(v, "\(place).via names an unknown target \"\(t)\"")
                    ok = false
                }
                via = t
            case "answer_s":
                if let d = duration(v, "\(place).answer_s", min: 1, max: 3600) { answer = d } else { ok = false }
            default:
                fail(kn, "\(place): a contact step takes after_s, contact, via and answer_s, not \(k)")
                ok = false
            }
        }
        guard let via else {
            fail(owner, "\(place) needs via: TARGET (the gateway that texts or calls the responders)")
            return nil
        }
        if person { return ok ? Step(after: after, action: .contactPerson(via: via)) : nil }
        return ok ? Step(after: after, action: .contactResponders(via: via, answer: answer)) : nil
    }

    /// Responder links go out by text: they must be absolute, so a contact step needs `public_url`.
    mutating func checkResponderLinks(_ c: inout VigilConfig, _ root: Node) {
        for name in c.policies.keys { c.policies[name]?.linkBase = c.publicURL }
        let contacts = c.policies.values.contains { p in
            p.steps.contains { if case .contactResponders = $0.action { return true } else { return false } }
        }
        if contacts && c.publicURL == nil {
            fail(
                root,
                "a contact: responders step needs public_url: the link in the responder's message must be absolute")
        }
    }
}

extension ConfigLoader.Parser {
    /// `mass_lapse: {sessions: 10, within_s: 60, notify: [targets]}`; `sessions: 0` turns it off.
    mutating func massLapse(_ n: Node, _ c: inout VigilConfig, targets: Set<TargetName>) {
        guard let f = map(n, "mass_lapse", allowed: ["sessions", "within_s", "notify"]) else { return }
        for (k, _, v) in f {
            switch k {
            case "sessions":
                if let i = int(v, "mass_lapse.sessions", range: 0...100_000) { c.massLapse.sessions = i }
            case "within_s":
                if let d = duration(v, "mass_lapse.within_s", min: 1, max: 3600) { c.massLapse.within = d }
            default:
                let list = targetNames(v, "mass_lapse.notify")
                for t in list where !targets.contains(t) {
                    fail(v, "mass_lapse.notify names an unknown target \"\(t)\"")
                }
                c.massLapseNotify = list
            }
        }
    }
}

/// `sms: {provider: twilio, auth_token_env: …}`.
public struct SMSSettings: Sendable {
    /// The gateway's auth token, which keys its signature.
    public var authToken: String
}

extension ConfigLoader.Parser {
    mutating func sms(_ n: Node, publicURL: String?) -> SMSSettings? {
        guard let f = map(n, "sms", allowed: ["provider", "auth_token", "auth_token_env", "auth_token_file"]) else {
            return nil
        }
        guard let (_, _, pv) = f.first(where: { $0.0 == "provider" }), pv.scalar?.string == "twilio" else {
            fail(n, "sms.provider must be twilio")
            return nil
        }
        if publicURL == nil {
            fail(n, "sms needs public_url: the gateway's signature covers the URL it called")
        }
        guard let token = secret(f, "auth_token", "sms", owner: n) else { return nil }
        return SMSSettings(authToken: token)
    }
}
