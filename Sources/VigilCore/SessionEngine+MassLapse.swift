extension SessionEngine {
    /// Turns mass-lapse detection on; `onEpisode` raises the alarm (once per episode) with the count.
    public func setMassLapse(
        _ settings: MassLapseSettings, onEpisode: @escaping @Sendable (Int, Timestamp) async -> Void
    ) {
        configureMassLapse(settings.sessions > 0 ? MassLapseDetector(settings) : nil, onEpisode)
    }

    /// Releases every mass-lapse hold (a supervisor looked); returns how many sessions were released.
    public func releaseMassLapseHolds(by: ActorName, actor: Actor?) async throws -> Int {
        let now = self.now()
        let held = openSessions().filter { ($0.massLapseHoldUntil ?? now) > now && !($0.dispatch?.isLive ?? false) }
            .map(\.id)
        var released = 0
        for id in held {
            let before = try await session(id)?.version
            let after = try await execute(id, .massLapseRelease(by: by), actor: actor)
            if after.version != before { released += 1 }
        }
        return released
    }
}

extension SessionEngine {
    func configureMassLapse(
        _ detector: MassLapseDetector?, _ onEpisode: @escaping @Sendable (Int, Timestamp) async -> Void
    ) {
        massLapse = detector
        onMassLapse = onEpisode
    }

    /// When a decision starts an escalation, counts the lapse (at its due time plus grace); a session caught in an
    /// episode is decided again holding its dispatch steps, so that even a dispatch step at `after_s: 0` waits.
    func massLapseCheck(_ current: Session, _ d: Decision, _ command: Command) throws -> Decision? {
        guard massLapse != nil, !current.id.isCanary, case .deadline = command,
            let started = d.events.first(where: { $0.type == .escalationStarted })
        else { return nil }
        let lapseAt = current.due + current.grace
        let verdict: MassLapseVerdict
        if let mark = lapseMarks[current.id], mark.at == lapseAt {
            // Counted already, with the others that fell due while nothing watched.
            verdict = MassLapseVerdict(newEpisode: false, count: mark.count, caught: mark.count > 0 ? [current.id] : [])
        } else if let v = massLapse?.record(current.id, at: lapseAt) {
            note(v, for: current.id, at: lapseAt)
            verdict = v
        } else {
            return nil
        }
        let now = clock.now()
        if verdict.newEpisode {
            let count = verdict.count
            let notify = onMassLapse
            Task { await notify?(count, now) }
        }
        guard verdict.caught.contains(current.id) else { return nil }
        let hold = current.policy.holdDispatchOnMassLapse ?? .zero
        guard hold > .zero else { return nil }
        var held = current
        held.massLapseHoldUntil = now + hold
        var again = try SessionMachine.decide(held, command, at: now, ids: ids)
        again.events.insert(
            NewEvent(EventData.MassLapseHeld(holdUntil: now + hold, count: verdict.count), at: started.at), at: 0)
        return again
    }

    /// Holds the sessions an episode caught after their own lapse was already decided.
    func applyPendingHolds() async {
        let work = pendingHolds
        pendingHolds = []
        let now = clock.now()
        for (id, count) in work {
            guard let s = open[id], let hold = s.policy.holdDispatchOnMassLapse, hold > .zero else { continue }
            _ = try? await execute(id, .massLapseHold(until: now + hold, count: count))
        }
    }
}

extension SessionEngine {
    /// Holds the dispatch steps of sessions a mass lapse caught after their own lapse was decided (perhaps by another
    /// instance: the cluster's count is kept by one), each for its policy's hold from now; returns how many.
    public func holdCaught(_ ids: [SessionID], count: Int) async -> Int {
        var held = 0
        for id in ids {
            guard let s = try? await session(id), s.state.isOpen, let hold = s.policy.holdDispatchOnMassLapse,
                hold > .zero
            else { continue }
            let after = try? await execute(id, .massLapseHold(until: clock.now() + hold, count: count))
            if let after, after.version != s.version { held += 1 }
        }
        return held
    }
}
