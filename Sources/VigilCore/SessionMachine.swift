/// What a command decided: the session's next state, the events to log and the notifications to send.
///
/// The engine stores all of it in one transaction, then answers the caller.
public struct Decision: Sendable {
    /// The session after the command.
    public var session: Session
    /// Events to append to the log.
    public var events: [NewEvent]
    /// Notifications to write to the outbox.
    public var outbox: [OutboxItem]
    /// Changes to existing outbox rows.
    public var outboxUpdates: [OutboxUpdate]

    /// Whether nothing changes.
    public var isNoop: Bool { events.isEmpty && outbox.isEmpty && outboxUpdates.isEmpty }
}

/// The session state machine: a pure function of (session, command, now).
public enum SessionMachine {
    /// Starts a session.
    public static func start(
        _ req: StartRequest, policy: Policy, id: SessionID, token: String, at now: Timestamp,
        routing: RoutingState? = nil
    ) -> Decision {
        var s = Session(
            id: id, caller: req.caller, location: req.location, notes: req.notes, interval: req.interval,
            grace: req.grace, policy: policy, checkInToken: token, at: now)
        s.version = 1
        s.substance = req.substance
        s.device = req.device
        s.language = req.language
        if !req.responders.isEmpty { s.responders = req.responders }
        s.routing = routing
        s.reminders = req.reminders
        let event = NewEvent(
            EventData.SessionStarted(
                checkInIntervalS: req.interval.wholeSeconds, graceS: req.grace.wholeSeconds, policy: policy.name,
                nextCheckInDueAt: s.due, responders: req.responders.count), at: now)
        var b = Builder(s: s, now: now, ids: .system)
        b.routingAtStart()
        return Decision(session: s, events: [event] + b.events, outbox: [], outboxUpdates: [])
    }

    /// Decides what `command` does to `session` at `now`.
    ///
    /// A deadline that finds nothing due decides nothing (a repeated request is answered before it gets here: its
    /// `Idempotency-Key` is kept in the store).
    /// `actor` is recorded (`by`, `role`) on every event the command makes.
    public static func decide(
        _ session: Session, _ command: Command, at now: Timestamp, ids: IDGenerator,
        actor: Actor? = nil
    ) throws -> Decision {
        var b = Builder(s: session, now: now, ids: ids)
        try b.apply(command)
        if let actor { b.events = b.events.map { stamped($0, actor) } }
        if b.isNoop { return Decision(session: session, events: [], outbox: [], outboxUpdates: b.updates) }
        if !b.events.isEmpty || !b.outbox.isEmpty { b.s.version += 1 }
        return Decision(session: b.s, events: b.events, outbox: b.outbox, outboxUpdates: b.updates)
    }
}

/// `event` with who caused it, unless it already names someone.
func stamped(_ event: NewEvent, _ actor: Actor) -> NewEvent {
    guard case .object(var data) = event.data else { return event }
    if data["by"] == nil { data["by"] = .id(actor.name) }
    data["role"] = .string(actor.role)
    var e = event
    e.data = .object(data)
    return e
}

/// Accumulates one decision.
struct Builder {
    var s: Session
    let now: Timestamp
    let ids: IDGenerator
    var events: [NewEvent] = []
    var outbox: [OutboxItem] = []
    var updates: [OutboxUpdate] = []

    init(s: Session, now: Timestamp, ids: IDGenerator) {
        self.s = s
        self.now = now
        self.ids = ids
    }

    var isNoop: Bool { events.isEmpty && outbox.isEmpty }

    mutating func emit(_ payload: some EventPayload) {
        events.append(NewEvent(payload, at: now))
    }

    mutating func apply(_ command: Command) throws {
        switch command {
        case .deadline: try deadline()
        case .checkIn(let source, let note): try checkIn(source: source, note: note)
        case .acknowledge(let op, let note): try acknowledge(by: op, note: note)
        case .dispatchNow(let by): try dispatchNow(by: by)
        case .end(let outcome, let by, let note): try end(outcome: outcome, by: by, note: note)
        case .update(let patch, let by): try update(patch, by: by)
        case .dispatchStatus(let st, let ref, let by): try dispatchStatus(st, reference: ref, by: by)
        case .delivery(let item, let outcome): try delivery(item, outcome)
        case .responderAnswer(let index, let answer): try responderAnswer(index, answer)
        case .massLapseHold(let until, let count): massLapseHold(until: until, count: count)
        case .massLapseRelease(let by): massLapseRelease(by: by)
        case .smsHelp: try smsHelp()
        case .smsText(let text): try smsText(text)
        case .closeFollowUp(let outcome, let naloxone, let note, let by, let referrals):
            try closeFollowUp(outcome, naloxoneUsed: naloxone, note: note, by: by, referrals: referrals)
        case .textStatus(let report): try textStatus(report)
        case .followUpDue: followUpDue()
        }
    }

    // MARK: Time

    mutating func deadline() throws {
        guard s.state.isOpen else { return }
        // Each pass moves at most one rung; a deadline that fired late catches up in order.
        for _ in 0..<(s.policy.steps.count + 4 + (s.responders?.count ?? 0)) {
            switch s.state {
            case .active:
                try remindIfDue()
                guard now >= s.due else { return }
                s.state = .overdue
                s.escalation = Escalation(missedDueAt: s.due)
                emit(EventData.CheckInOverdue(dueAt: s.due, lateMs: now - s.due))
            case .overdue:
                if pauseHolds() { return }
                let start = s.due + s.grace
                guard now >= start else { return }
                s.state = .escalating
                s.escalation?.startedAt = start
                emit(
                    EventData.EscalationStarted(
                        missedCheckInDueAt: s.due, scheduledAt: start, lateMs: now - start,
                        steps: s.policy.steps.count))
            case .escalating:
                if pauseHolds() { return }
                guard let e = s.escalation else { return }
                if try responderTimeoutIfDue(before: s.stepTime(e.nextStep)) { continue }
                guard let t = s.stepTime(e.nextStep) else {
                    realarmIfDue()
                    return
                }
                guard now >= t else { return }
                // Caught in a mass lapse: the dispatch waits for the hold's end (or a release, or an operator).
                if s.heldDispatch(after: now, step: e.nextStep) != nil { return }
                try fireStep(e.nextStep, scheduledAt: t)
            case .dispatched:
                try loopDeadlines()
                return
            case .ended:
                return
            }
        }
    }

    /// Whether an acknowledgement still holds the ladder; ends an expired pause, shifting a step that fell due
    /// during it to the pause's end (the steps after it keep their spacing from there).
    mutating func pauseHolds() -> Bool {
        guard var e = s.escalation, let p = e.pausedUntil else { return false }
        if now < p { return true }
        let stepLeft = s.stepTime(e.nextStep)
        if let t = stepLeft, t < p { e.shift = e.shift + (p - t) }
        e.pausedUntil = nil
        // No step left: the alarm repeats every ack_timeout_s, so one acknowledge never silences the person.
        e.realarmAt = stepLeft == nil ? max(p, now) + s.policy.ackTimeout : nil
        s.escalation = e
        emit(
            EventData.EscalationResumed(
                pausedUntil: p, lateMs: now - p, stepsLeft: max(0, s.policy.steps.count - e.nextStep),
                nextAlarmAt: e.realarmAt))
        return false
    }

    /// Sounds the alarm again for an acknowledged escalation with no step left, and schedules the next one.
    mutating func realarmIfDue() {
        guard var e = s.escalation, let r = e.realarmAt, now >= r else { return }
        let next = max(r, now) + s.policy.ackTimeout
        e.realarmAt = next
        s.escalation = e
        emit(
            EventData.EscalationResumed(repeat: true, scheduledAt: r, lateMs: now - r, stepsLeft: 0, nextAlarmAt: next))
    }

    func reason() -> String {
        Spoken.missedReason(due: s.escalation?.missedDueAt ?? s.due, now: now)
    }

    mutating func fireStep(_ k: Int, scheduledAt t: Timestamp) throws {
        let step = s.policy.steps[k]
        // A later step gives way to nobody: responders still waiting are told they are no longer needed.
        try stopResponders(reason: "the next step of the escalation fired")
        s.escalation?.lastStep = k
        s.escalation?.nextStep = k + 1
        let late = now - t
        switch step.action {
        case .notify(let targets):
            var webhookIDs: [WebhookID] = []
            var notes: [NotificationID] = []
            let refs = s.escalation?.references ?? []
            for target in targets {
                let item = try notification(
                    .escalationStep, targets: [target], isDispatch: false,
                    WebhookDetails(reason: reason(), escalationStep: k + 1), references: refs)
                webhookIDs.append(item.webhookIDs[0])
                notes.append(item.id)
            }
            for target in targets where !(s.escalation?.notifiedTargets.contains(target) ?? true) {
                s.escalation?.notifiedTargets.append(target)
            }
            addReferences(webhookIDs)
            mark(.notified, who: targets.rawValues.joined(separator: ", "))
            s.escalation?.notifications.append(contentsOf: notes)
            emit(
                EventData.EscalationStep(
                    step: k + 1, action: .notify, targets: targets, scheduledAt: t, lateMs: late,
                    webhookIDs: webhookIDs))
        case .dispatch(let targets):
            if let d = s.dispatch, d.isLive {
                emit(
                    EventData.EscalationStep(
                        step: k + 1, action: .dispatch, skipped: "a dispatch was already requested", scheduledAt: t,
                        lateMs: late))
            } else {
                try requestDispatch(targets, by: "ladder", step: k + 1, reason: reason(), late: late)
            }
        case .contactResponders(let via, let answer):
            try startResponders(step: k, via: via, answer: answer, scheduledAt: t)
        case .contactPerson(let via):
            try promptPerson(step: k, via: via, scheduledAt: t)
        case .ping(let targets):
            try ping(targets, step: k + 1, scheduledAt: t, late: late)
        }
    }

    mutating func requestDispatch(_ named: [TargetName], by: ActorName, step: Int, reason: String, late: Millis) throws
    {
        let targets = expandRoute(named)
        try stopResponders(reason: "emergency services were called")
        let refs = s.escalation?.references ?? []
        guard !targets.isEmpty else {
            // A step left with no target fails at once: never silence.
            let id = ids.notificationID()
            var d = DispatchRecord(notification: id, requestedAt: now, requestedBy: by, targets: named)
            d.failedAt = now
            s.dispatch = d
            emit(EventData.DispatchRequested(step: step, targets: [], requestedBy: by, lateMs: late))
            raiseDeliveryFailed(
                type: .dispatchRequested, targets: named, reason: "the dispatch step has no target (route unresolved)",
                notification: id, references: refs)
            return
        }
        mark(.dispatchRequested, who: by.rawValue)
        let item = try notification(
            .dispatchRequested, targets: targets, isDispatch: true,
            WebhookDetails(reason: reason, escalationStep: step, requestedBy: by),
            references: refs, facts: { id, b in b.dispatchFacts(incident: id, requestedAt: b.now, references: refs) })
        s.dispatch = DispatchRecord(notification: item.id, requestedAt: now, requestedBy: by, targets: targets)
        s.dispatch?.webhookID = item.webhookIDs[0]
        s.dispatch?.sentTo = [targets[0]]
        addReferences([item.webhookIDs[0]])
        emit(
            EventData.DispatchRequested(
                step: step, targets: targets, requestedBy: by, notification: item.id, webhookIDs: item.webhookIDs,
                lateMs: late))
    }
}
