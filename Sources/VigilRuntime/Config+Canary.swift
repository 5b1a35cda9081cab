import VigilCore
import Yams

/// `canary: {every_s: 3600, targets: [ems-primary, supervisors], timeout_s: 30}`: off unless set.
public struct CanarySettings: Sendable, Equatable {
    /// How often a round runs.
    public var every: Millis
    /// The targets each round pings.
    public var targets: [TargetName]
    /// How long after the canary's deadline each target has to answer 2xx.
    public var timeout: Millis
}

extension ConfigLoader.Parser {
    mutating func canary(_ n: Node, targets known: Set<TargetName>) -> CanarySettings? {
        guard let f = map(n, "canary", allowed: ["every_s", "targets", "timeout_s"]) else { return nil }
        var settings = CanarySettings(every: .seconds(3600), targets: [], timeout: .seconds(30))
        var named = false
        for (k, _, v) in f {
            switch k {
            case "every_s":
                if let d = duration(v, "canary.every_s", min: 10, max: 604_800) { settings.every = d }
            case "timeout_s":
                if let d = duration(v, "canary.timeout_s", min: 1, max: 3600) { settings.timeout = d }
            default:
                named = true
                settings.targets = targetNames(v, "canary.targets")
                for t in settings.targets where !known.contains(t) {
                    fail(v, "canary.targets names an unknown target \"\(t)\"")
                }
            }
        }
        if !named || settings.targets.isEmpty {
            fail(n, "canary.targets must name at least one target")
            return nil
        }
        if settings.timeout >= settings.every {
            fail(n, "canary.timeout_s must be shorter than canary.every_s")
            return nil
        }
        return settings
    }
}
