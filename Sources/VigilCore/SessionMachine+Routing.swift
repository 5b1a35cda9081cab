/// Routing (`routes:`): what a session's location resolves to, pins, and the word `route` in a dispatch step.
extension Builder {
    /// The events of a session's first route, at intake.
    mutating func routingAtStart() {
        guard let r = s.routing else { return }
        if let route = r.route {
            emit(EventData.RouteResolved(target: route.target, matchedBy: route.matchKind))
        }
        routingWarnings(previous: [])
    }

    /// Emits `routing.default` / `routing.unresolved` when the session newly carries that warning.
    mutating func routingWarnings(previous: [String]) {
        guard let r = s.routing else { return }
        for w in r.warnings where !previous.contains(w) {
            if w == EventType.routingDefault.rawValue {
                emit(EventData.RoutingDefault(target: r.route?.target))
            } else {
                emit(EventData.RoutingUnresolved(target: r.route?.target))
            }
        }
    }

    /// Applies a patch's route edit and a location change's new resolution; returns whether the route changed.
    mutating func updateRouting(_ patch: SessionPatch, locationChanged: Bool, by: ActorName) throws -> Bool {
        guard var r = s.routing else {
            if patch.route != nil { throw VigilError.invalid("routing is off: the configuration has no routes") }
            return false
        }
        let before = r
        switch patch.route {
        case .pin(let target)?:
            r.route = SessionRoute(target: target, matched: "pinned")
            r.pinned = true
        case .unpin?:
            r.pinned = false
            r.route = patch.resolvedRoute
        case nil:
            if locationChanged && !r.pinned { r.route = patch.resolvedRoute }
        }
        guard r != before else { return false }
        s.routing = r
        switch patch.route {
        case .pin(let target)?:
            emit(EventData.RoutingPinned(target: target, by: by))
        case .unpin?:
            emit(EventData.RoutingUnpinned(target: r.route?.target, by: by))
        case nil:
            emit(
                EventData.RouteChanged(
                    target: r.route?.target, matchedBy: r.route?.matchKind, previousTarget: before.route?.target))
        }
        routingWarnings(previous: before.warnings)
        // After a dispatch, another centre is an operator's decision: alarm, never a second dispatch.
        if let d = s.dispatch, s.state == .dispatched || d.isLive, let newTarget = r.route?.target,
            newTarget != before.route?.target, !dispatchedTargets(d).contains(newTarget)
        {
            emit(
                EventData.RoutingChangedAfterDispatch(
                    target: newTarget, dispatchedTo: dispatchedTargets(d),
                    reason: "the location now resolves to another centre; nothing was dispatched again"))
        }
        return true
    }

    func dispatchedTargets(_ d: DispatchRecord) -> [TargetName] {
        let delivered = (d.deliveries ?? []).map(\.target)
        return delivered.isEmpty ? d.targets : delivered
    }

    /// A dispatch step's targets with the word `route` replaced by the session's route (skipped, with
    /// `routing.unresolved`, when there is none); a target named twice keeps its first place.
    mutating func expandRoute(_ targets: [TargetName]) -> [TargetName] {
        var out: [TargetName] = []
        for t in targets {
            var name = t
            if t == RouteTable.word {
                guard let r = s.routing?.route else {
                    emit(EventData.RoutingUnresolved(inDispatchStep: true))
                    continue
                }
                name = r.target
            }
            if !out.contains(name) { out.append(name) }
        }
        return out
    }
}

extension RouteTable {
    /// The word a dispatch step uses for the session's resolved target.
    public static let word: TargetName = "route"
}
