extension Policy {
    /// Every target the policy names: its steps' (the word `route` aside: it stands for the session's resolved
    /// target), `on_delivery_failure` and the closed-loop timeouts'.
    public var namedTargets: Set<TargetName> {
        var names = Set(steps.flatMap(\.targets)).union(onDeliveryFailure).union((loops ?? [:]).keys)
        names.remove(RouteTable.word)
        return names
    }
}

/// An open session whose policy names a target that a new configuration no longer has.
public struct PolicyTargetGap: Sendable, Hashable {
    /// The session.
    public var session: SessionID
    /// The policy it started with (and keeps until it ends).
    public var policy: String
    /// The target that would no longer exist.
    public var target: TargetName

    /// Creates a gap.
    public init(session: SessionID, policy: String, target: TargetName) {
        self.session = session
        self.policy = policy
        self.target = target
    }
}

extension SessionEngine {
    /// Replaces the policies new sessions start with. Open sessions keep the policy they started with (each session
    /// holds its own copy) until they end.
    public func setPolicies(_ policies: [String: Policy]) { self.policies = policies }

    /// The open sessions whose policy names a target outside `targets` (the route a `route` step stands for
    /// included), in a stable order: a configuration without those targets would leave their ladders sending to
    /// nobody.
    public func policyGaps(against targets: Set<TargetName>) -> [PolicyTargetGap] {
        var gaps: [PolicyTargetGap] = []
        for s in open.values {
            var named = s.policy.namedTargets
            // A step that dispatches to `route` names the target the session's location resolved to.
            if s.policy.steps.contains(where: { $0.targets.contains(RouteTable.word) }),
                let routed = s.routing?.route?.target
            {
                named.insert(routed)
            }
            for t in named.subtracting(targets) {
                gaps.append(PolicyTargetGap(session: s.id, policy: s.policy.name, target: t))
            }
        }
        return gaps.sorted { ($0.session.rawValue, $0.target.rawValue) < ($1.session.rawValue, $1.target.rawValue) }
    }
}

extension EventData {
    /// `config.reloaded`: the file's SHA-256, and the settings that changed but take effect only at a restart.
    public struct ConfigReloaded: EventPayload, Equatable {
        public var eventType: EventType { .configReloaded }
        public var sha256: String
        public var restartNeeded: [String]
        public init(sha256: String, restartNeeded: [String]) {
            self.sha256 = sha256
            self.restartNeeded = restartNeeded
        }
    }

    /// `config.reload_failed`: the first error, and the hash of the configuration still in force.
    public struct ConfigReloadFailed: EventPayload, Equatable {
        public var eventType: EventType { .configReloadFailed }
        public var error: String
        public var runningSha256: String?
        public init(error: String, runningSha256: String?) {
            self.error = error
            self.runningSha256 = runningSha256
        }
    }
}
