import Foundation
import VigilCore
import VigilDelivery
import Yams

/// `format: twilio` targets, `remind:` in a policy and `contact: person` steps (docs/contract.md, "Texts to the
/// person and to responders").
extension ConfigLoader.Parser {
    /// Keys only a `format: twilio` target takes.
    static let twilioTargetKeys: Set<String> = [
        "account_sid", "auth_token", "auth_token_env", "auth_token_file", "from", "messaging_service_sid", "to",
    ]

    /// The `account_sid` of a target's mapping, if it is text.
    func twilioAccountSID(_ f: [(String, Node, Node)]) -> String? {
        f.first { $0.0 == "account_sid" }?.2.scalar?.string
    }

    /// Refuses Twilio keys on other formats, and a webhook secret on a Twilio target (the gateway verifies no
    /// signature); false when something was refused.
    mutating func refuseTwilioKeys(_ f: [(String, Node, Node)], format: PayloadFormat, place: String) -> Bool {
        var ok = true
        for (k, kn, _) in f {
            if format != .twilio, Self.twilioTargetKeys.contains(k) {
                fail(kn, "\(place).\(k) is only for format: twilio")
                ok = false
            }
            if format == .twilio, k.hasPrefix("secret") || k.hasPrefix("previous_secret") {
                fail(
                    kn,
                    "\(place).\(k): a twilio target is not signed; it authenticates with account_sid and "
                        + "auth_token_env")
                ok = false
            }
        }
        return ok
    }

    /// The account of a `format: twilio` target: `account_sid`, `auth_token_env` (or `_file`), `from` or
    /// `messaging_service_sid`, and optionally `to` (numbers in E.164, with `+`).
    mutating func twilioAccount(_ f: [(String, Node, Node)], owner: Node, place: String) -> TwilioAccount? {
        let value = { (k: String) in f.first { $0.0 == k }?.2 }
        guard let sidNode = value("account_sid"), let sid = sidNode.scalar?.string, !sid.isEmpty,
            sid.unicodeScalars.allSatisfy({ $0.isASCII && CharacterSet.alphanumerics.contains($0) })
        else {
            fail(value("account_sid") ?? owner, "\(place) needs account_sid (letters and digits, e.g. AC0123…)")
            return nil
        }
        guard let token = secret(f, "auth_token", place, owner: owner) else { return nil }
        var account = TwilioAccount(accountSID: sid, authToken: token)
        for (k, _, v) in f where k == "from" || k == "to" {
            guard let s = v.scalar?.string, s.hasPrefix("+"), let n = PhoneNumber.e164(s, defaultCountry: nil) else {
                fail(v, "\(place).\(k) must be a phone number with + and its country code, e.g. +18005550100")
                continue
            }
            if k == "from" { account.from = n } else { account.to = n }
        }
        if let m = value("messaging_service_sid") {
            if let s = m.scalar?.string, !s.isEmpty {
                account.messagingServiceSID = s
            } else {
                fail(m, "\(place).messaging_service_sid must be text")
            }
        }
        if (account.from == nil) == (account.messagingServiceSID == nil) {
            fail(owner, "\(place) needs from: (a number) or messaging_service_sid:, one of the two")
            return nil
        }
        return account
    }

    /// `remind: {before_s: 60, via: TARGET}`.
    mutating func reminder(_ n: Node, _ place: String, targets: Set<TargetName>) -> Reminder? {
        guard let f = map(n, "\(place).remind", allowed: ["before_s", "via"]) else { return nil }
        var before: Millis?
        var via: TargetName?
        for (k, _, v) in f {
            if k == "before_s" { before = duration(v, "\(place).remind.before_s", min: 1, max: 86_400) }
            if k == "via", let s = string(v, "\(place).remind.via") {
                if targets.contains(TargetName(rawValue: s)) {
                    via = TargetName(rawValue: s)
                } else {
                    fail(v, "\(place).remind.via names an unknown target \"\(s)\"")
                }
            }
        }
        guard let before, let via else {
            fail(n, "\(place).remind needs before_s and via (the gateway that texts the person)")
            return nil
        }
        return Reminder(before: before, via: via)
    }

    /// Checks across parts: a text target's status callback and the person's link need `public_url`; a twilio target
    /// never dispatches, and carries summaries (notify steps, `on_delivery_failure`, alarms) only with `to:`.
    mutating func checkTexts(_ c: inout VigilConfig, root: Node, targetsNode: Node?, policiesNode: Node?) {
        let twilio = Set(c.targets.filter { $0.value.format == .twilio }.map(\.key))
        let base = c.publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        for name in twilio { c.targets[name]?.twilio?.statusCallback = base.map { $0 + "/v1/inbound/sms/status" } }
        let texts = c.policies.values.contains { p in
            p.remind != nil || p.steps.contains { if case .contactPerson = $0.action { true } else { false } }
        }
        if (texts || !twilio.isEmpty) && c.publicURL == nil {
            fail(
                root,
                "texts need public_url: the person's link must be absolute, and a twilio target's status callback "
                    + "is public_url + /v1/inbound/sms/status")
        }
        guard !twilio.isEmpty else { return }
        let summaries = Set(twilio.filter { c.targets[$0]?.twilio?.to != nil })
        let node = policiesNode ?? targetsNode ?? root
        for (name, p) in c.policies.sorted(by: { $0.key < $1.key }) {
            for step in p.steps {
                switch step.action {
                case .dispatch(let list):
                    for t in list where twilio.contains(t) {
                        fail(node, "policy \(name): dispatch names \(t), a twilio target, which only sends texts")
                    }
                case .notify(let list):
                    for t in list where twilio.contains(t) && !summaries.contains(t) {
                        fail(
                            node, "policy \(name): notify names \(t), a twilio target without to: (the number to text)")
                    }
                default: break
                }
            }
            for t in p.onDeliveryFailure where twilio.contains(t) && !summaries.contains(t) {
                fail(node, "policy \(name).on_delivery_failure: \(t) is a twilio target without to:")
            }
        }
        for t in (c.configuredAlarmTargets ?? []) + (c.massLapseNotify ?? []) where twilio.contains(t) {
            if !summaries.contains(t) { fail(targetsNode ?? root, "\(t) is a twilio target without to: (alarms)") }
        }
    }
}

extension WebhookSigner {
    /// A signer for a target that is never signed (`format: twilio`), keyed with random bytes nobody knows.
    static var unused: WebhookSigner {
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255) }
        return WebhookSigner(secret: "whsec_" + Data(bytes).base64EncodedString())!
    }
}
