import VigilCore
import Yams

/// `slo: {deadline_to_dispatch_s: 10, deadline_to_notify_s: 5}`: the objectives the service-level report measures
/// against.
extension ConfigLoader.Parser {
    mutating func serviceLevels(_ v: Node, _ c: inout VigilConfig) {
        guard let f = map(v, "slo", allowed: ["deadline_to_dispatch_s", "deadline_to_notify_s"]) else { return }
        for (k, _, sv) in f {
            let level: ServiceLevel = k == "deadline_to_notify_s" ? .deadlineToNotify : .deadlineToDispatch
            if let d = duration(sv, "slo.\(k)", min: 0.001, max: 86_400) { c.serviceLevelTargets[level] = d }
        }
    }
}
