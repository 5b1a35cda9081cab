import Foundation
import VigilCore
import VigilDelivery
import VigilHTTP
import Yams

/// `policies`: each escalation ladder.
extension ConfigLoader.Parser {
    mutating func policies(_ n: Node, targets: Set<TargetName>) -> [String: Policy] {
        guard let f = map(n, "policies", allowed: []) else { return [:] }
        var out: [String: Policy] = [:]
        for (name, _, v) in f {
            let place = "policy \(name)"
            guard
                let pf = map(
                    v, place,
                    allowed: Set(["ack_timeout_s", "steps", "on_delivery_failure", "remind"]).union(
                        Self.responderPolicyKeys))
            else {
                continue
            }
            var ack = Millis.seconds(120)
            var steps: [Step] = []
            var onFailure: [TargetName] = []
            var responderSettings = Policy(name: name, ackTimeout: .zero, steps: [])
            var remind: Reminder?
            for (k, _, pv) in pf {
                switch k {
                case "remind":
                    remind = reminder(pv, place, targets: targets)
                case "ack_timeout_s":
                    if let d = duration(pv, "\(place).ack_timeout_s", min: 1, max: 3600) { ack = d }
                case _ where Self.responderPolicyKeys.contains(k):
                    responderPolicy(k, pv, place, into: &responderSettings)
                case "on_delivery_failure":
                    onFailure = targetNames(pv, "\(place).on_delivery_failure")
                    for t in onFailure where !targets.contains(t) {
                        fail(pv, "\(place).on_delivery_failure names an unknown target \"\(t)\"")
                    }
                case "steps":
                    guard let seq = pv.sequence else {
                        fail(pv, "\(place).steps must be a list")
                        break
                    }
                    for (i, sn) in seq.enumerated() {
                        let sp = "\(place) step \(i + 1)"
                        guard
                            let sf = map(
                                sn, sp, allowed: Set(["after_s", "notify", "dispatch"]).union(Self.contactStepKeys))
                        else { continue }
                        if sf.contains(where: { $0.0 == "contact" }) {
                            if let step = contactStep(sf, sn, sp, targets: targets) { steps.append(step) }
                            continue
                        }
                        var after: Millis?
                        var action: Step.Action?
                        for (sk, skn, sv) in sf {
                            switch sk {
                            case "after_s": after = duration(sv, "\(sp).after_s", min: 0, max: 86400)
                            case "notify", "dispatch":
                                if action != nil {
                                    fail(skn, "\(sp) must either notify or dispatch, not both")
                                    continue
                                }
                                let list = targetNames(sv, "\(sp).\(sk)")
                                if list.isEmpty { fail(sv, "\(sp).\(sk) must name at least one target") }
                                for t in list where !targets.contains(t) && !(sk == "dispatch" && t == RouteTable.word)
                                {
                                    fail(sv, "\(sp).\(sk) names an unknown target \"\(t)\"")
                                }
                                action = sk == "notify" ? .notify(list) : .dispatch(list)
                            default: break
                            }
                        }
                        guard let action else {
                            fail(sn, "\(sp) needs notify: [targets] or dispatch: [targets]")
                            continue
                        }
                        steps.append(Step(after: after ?? .zero, action: action))
                    }
                default:
                    break
                }
            }
            var policy = Policy(name: name, ackTimeout: ack, steps: steps, onDeliveryFailure: onFailure)
            policy.goingPause = responderSettings.goingPause
            policy.responderMessage = responderSettings.responderMessage
            policy.holdDispatchOnMassLapse = responderSettings.holdDispatchOnMassLapse
            policy.remind = remind
            out[name] = policy
        }
        return out
    }
}
