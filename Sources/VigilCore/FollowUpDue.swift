/// Loose ends of the closed loop: a follow-up that falls due is raised on the console, once (docs/contract.md,
/// "Follow-up").
extension EventData {
    /// `follow_up.due`: an open follow-up's time came; the console reminds the operators to call back.
    public struct FollowUpDue: EventPayload, Equatable {
        public var eventType: EventType { .followUpDue }
        public var followUp: String
        public var dueAt: Timestamp
    }

    /// `dispatch.dropped`: a partner that accepted reported `rejected` or `closed` with no crew on scene.
    public struct DispatchDropped: EventPayload, Equatable {
        public var eventType: EventType { .dispatchDropped }
        public var target: TargetName
        public var status: DispatchStatus
        public var acceptedAt: Timestamp
        public var alarm: Bool
        public var reason: String
    }
}

extension Builder {
    mutating func followUpDue() {
        guard var f = s.followUp, f.closedAt == nil, f.remindedAt == nil, f.dueAt <= now else { return }
        f.remindedAt = now
        s.followUp = f
        emit(EventData.FollowUpDue(followUp: f.id, dueAt: f.dueAt))
    }
}

extension FollowUp {
    /// Whether it is open and its time has come.
    public func isDue(at now: Timestamp) -> Bool { closedAt == nil && dueAt <= now }
}

extension SessionEngine {
    /// Raises the reminder of every open follow-up that has fallen due and was not reminded yet; returns how many.
    @discardableResult
    public func remindDueFollowUps() async -> Int {
        let now = clock.now()
        guard let all = try? await store.sessions(.all, limit: 10_000) else { return 0 }
        let due = all.filter { $0.followUp.map { $0.isDue(at: now) && $0.remindedAt == nil } ?? false }
        var reminded = 0
        for s in due {
            if (try? await execute(s.id, .followUpDue)) != nil { reminded += 1 }
        }
        return reminded
    }
}
