import Foundation
import VigilCore
import VigilDelivery
import Yams

extension ConfigLoader.Parser {
    /// `hotline:`: organization, CAP sender, EIDO agency id, the hotline's callback number and the time zone that
    /// times read aloud are given in.
    mutating func hotline(_ n: Node) -> Hotline {
        var h = Hotline()
        guard
            let f = map(
                n, "hotline",
                allowed: ["organization", "sender", "agency_id", "callback_number", "time_zone", "language"])
        else { return h }
        // `language` belongs to the person's settings: `root` reads it.
        for (k, _, v) in f where k != "language" {
            guard let text = string(v, "hotline.\(k)") else { continue }
            let value = text.trimmingCharacters(in: .whitespaces)
            if value.isEmpty || value.count > 200 {
                fail(v, "hotline.\(k) must be between 1 and 200 characters")
                continue
            }
            if let problem = CharacterPolicy.problem(in: value) {
                fail(v, "hotline.\(k) \(problem)")
                continue
            }
            switch k {
            case "organization":
                h.organization = value
            case "sender":
                // CAP 1.2: the sender has no spaces, commas or restricted characters (< and &).
                if value.contains(where: { $0 == " " || $0 == "," || $0 == "<" || $0 == "&" }) {
                    fail(
                        v, "hotline.sender must not contain spaces, commas, < or & (CAP 1.2), e.g. dispatch@example.org"
                    )
                } else {
                    h.sender = value
                }
            case "agency_id":
                // An EIDO agency id is a domain, as NENA's samples use.
                let labels = value.split(separator: ".", omittingEmptySubsequences: false)
                let ok =
                    labels.count >= 2
                    && labels.allSatisfy { l in
                        !l.isEmpty && l.count <= 63
                            && l.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
                    }
                if ok {
                    h.agencyID = value.lowercased()
                } else {
                    fail(v, "hotline.agency_id must be a domain, e.g. example.org")
                }
            case "callback_number":
                let digits = value.dropFirst().filter(\.isNumber)
                if value.hasPrefix("+"), digits.count == value.count - 1, (8...15).contains(digits.count),
                    value.dropFirst().first != "0"
                {
                    h.callbackNumber = value
                } else {
                    fail(v, "hotline.callback_number must be in E.164: + and 8 to 15 digits, e.g. \"+18005550100\"")
                }
            default:
                if TimeZone(identifier: value) != nil, value.contains("/") || value == "UTC" {
                    h.timeZone = value
                } else {
                    fail(v, "hotline.time_zone must be an IANA time zone, e.g. America/Chicago (or UTC)")
                }
            }
        }
        return h
    }

    /// A `cap` or `eido` target receives only `dispatch.*` (and `test.ping`): refuse one named where anything else
    /// goes.
    mutating func refuseEIDOOutsideDispatch(_ c: VigilConfig, targetsNode: Node?, policiesNode: Node?) {
        let eido = Set(c.targets.filter { $0.value.format == .cap || $0.value.format == .eido }.map(\.key))
        guard !eido.isEmpty else { return }
        for name in (c.configuredAlarmTargets ?? []) where eido.contains(name) {
            fail(
                targetsNode,
                "alarm_targets: \(name) is a \(c.targets[name]?.format.rawValue ?? "cap") target, which receives only dispatch.* messages"
            )
        }
        for (pk, pv) in policiesNode?.mapping ?? [:] {
            for (k, v) in pv.mapping ?? [:] where k.scalar?.string == "on_delivery_failure" {
                for n in v.sequence ?? [] where eido.contains(TargetName(rawValue: n.scalar?.string ?? "")) {
                    fail(
                        n,
                        "policy \(pk.scalar?.string ?? "?").on_delivery_failure: \(n.scalar?.string ?? "") is a cap or "
                            + "eido target, which receives only dispatch.* messages")
                }
            }
            for (k, v) in pv.mapping ?? [:] where k.scalar?.string == "steps" {
                for step in v.sequence ?? [] {
                    for (sk, sv) in step.mapping ?? [:] where sk.scalar?.string == "notify" {
                        for n in sv.sequence ?? [] where eido.contains(TargetName(rawValue: n.scalar?.string ?? "")) {
                            fail(
                                n,
                                "policy \(pk.scalar?.string ?? "?"): notify names \(n.scalar?.string ?? ""), a cap or "
                                    + "eido target, which receives only dispatch.* messages")
                        }
                    }
                }
            }
        }
    }
}
