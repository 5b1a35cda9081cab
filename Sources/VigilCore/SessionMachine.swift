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
    /// How many idempotency keys a session remembers.
    public static let rememberedCommands = 32

    /// Starts a session.
    public static func start(
        _ req: StartRequest, policy: Policy, id: SessionID, token: String, key: String?, at now: Timestamp,
        routing: RoutingState? = nil
    ) -> Decision {
        var s = Session(
            id: id, caller: req.caller, location: req.location, notes: req.notes, interval: req.interval,
            grace: req.grace, policy: policy, checkInToken: token, startKey: key, at: now)
        s.version = 1
        s.substance = req.substance
        s.device = req.device
        if !req.responders.isEmpty { s.responders = req.responders }
        s.routing = routing
        let event = NewEvent(
            .sessionStarted, at: now,
            [
                "check_in_interval_s": .int(req.interval.wholeSeconds), "grace_s": .int(req.grace.wholeSeconds),
                "policy": .string(policy.name), "next_check_in_due_at": .time(s.due),
                "responders": .int(Int64(req.responders.count)),
            ])
        var b = Builder(s: s, now: now, ids: .system)
        b.routingAtStart()
        return Decision(session: s, events: [event] + b.events, outbox: [], outboxUpdates: [])
    }

    /// Decides what `command` does to `session` at `now`.
    ///
    /// A command repeated with the same idempotency key, or a deadline that finds nothing due, decides nothing.
    /// `actor` is recorded (`by`, `role`) on every event the command makes.
    public static func decide(
        _ session: Session, _ command: Command, key: String? = nil, at now: Timestamp, ids: IDGenerator,
        actor: Actor? = nil
    ) throws -> Decision {
        if let key, session.recentCommands.contains(key) {
            return Decision(session: session, events: [], outbox: [], outboxUpdates: [])
        }
        var b = Builder(s: session, now: now, ids: ids)
        try b.apply(command)
        if let actor { b.events = b.events.map { stamped($0, actor) } }
        if b.isNoop { return Decision(session: session, events: [], outbox: [], outboxUpdates: b.updates) }
        if let key {
            b.s.recentCommands.append(key)
            if b.s.recentCommands.count > rememberedCommands { b.s.recentCommands.removeFirst() }
        }
        if !b.events.isEmpty || !b.outbox.isEmpty { b.s.version += 1 }
        return Decision(session: b.s, events: b.events, outbox: b.outbox, outboxUpdates: b.updates)
    }
}

/// `event` with who caused it, unless it already names someone.
func stamped(_ event: NewEvent, _ actor: Actor) -> NewEvent {
    guard case .object(var data) = event.data else { return event }
    if data["by"] == nil { data["by"] = .string(actor.name) }
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

    mutating func emit(_ type: EventType, _ data: [String: JSONValue] = [:]) {
        events.append(NewEvent(type, at: now, .object(data)))
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
        case .closeFollowUp(let outcome, let naloxone, let note, let by):
            try closeFollowUp(outcome, naloxoneUsed: naloxone, note: note, by: by)
        }
    }

    // MARK: Time

    mutating func deadline() throws {
        guard s.state.isOpen else { return }
        // Each pass moves at most one rung; a deadline that fired late catches up in order.
        for _ in 0..<(s.policy.steps.count + 4 + (s.responders?.count ?? 0)) {
            switch s.state {
            case .active:
                guard now >= s.due else { return }
                s.state = .overdue
                s.escalation = Escalation(missedDueAt: s.due)
                emit(.checkInOverdue, ["due_at": .time(s.due), "late_ms": .int((now - s.due).value)])
            case .overdue:
                if pauseHolds() { return }
                let start = s.due + s.grace
                guard now >= start else { return }
                s.state = .escalating
                s.escalation?.startedAt = start
                emit(
                    .escalationStarted,
                    [
                        "missed_check_in_due_at": .time(s.due), "scheduled_at": .time(start),
                        "late_ms": .int((now - start).value), "steps": .int(Int64(s.policy.steps.count)),
                    ])
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
            .escalationResumed,
            [
                "paused_until": .time(p), "late_ms": .int((now - p).value),
                "steps_left": .int(Int64(max(0, s.policy.steps.count - e.nextStep))),
                "next_alarm_at": .time(e.realarmAt),
            ])
        return false
    }

    /// Sounds the alarm again for an acknowledged escalation with no step left, and schedules the next one.
    mutating func realarmIfDue() {
        guard var e = s.escalation, let r = e.realarmAt, now >= r else { return }
        let next = max(r, now) + s.policy.ackTimeout
        e.realarmAt = next
        s.escalation = e
        emit(
            .escalationResumed,
            [
                "repeat": true, "scheduled_at": .time(r), "late_ms": .int((now - r).value), "steps_left": 0,
                "next_alarm_at": .time(next),
            ])
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
        let late = JSONValue.int((now - t).value)
        switch step.action {
        case .notify(let targets):
            var webhookIDs: [String] = []
            var notes: [NotificationID] = []
            let refs = s.escalation?.references ?? []
            for target in targets {
                let item = try notification(
                    .escalationStep, targets: [target], isDispatch: false,
                    ["escalation_step": .int(Int64(k + 1)), "reason": .string(reason())], references: refs)
                webhookIDs.append(item.webhookIDs[0])
                notes.append(item.id)
            }
            for target in targets where !(s.escalation?.notifiedTargets.contains(target) ?? true) {
                s.escalation?.notifiedTargets.append(target)
            }
            addReferences(webhookIDs)
            mark(.notified, who: targets.joined(separator: ", "))
            s.escalation?.notifications.append(contentsOf: notes)
            emit(
                .escalationStep,
                [
                    "step": .int(Int64(k + 1)), "action": "notify", "targets": .strings(targets),
                    "scheduled_at": .time(t), "late_ms": late, "webhook_ids": .strings(webhookIDs),
                ])
        case .dispatch(let targets):
            if let d = s.dispatch, d.isLive {
                emit(
                    .escalationStep,
                    [
                        "step": .int(Int64(k + 1)), "action": "dispatch", "skipped": "a dispatch was already requested",
                        "scheduled_at": .time(t), "late_ms": late,
                    ])
            } else {
                try requestDispatch(targets, by: "ladder", step: k + 1, reason: reason(), late: late)
            }
        case .contactResponders(let via, let answer):
            try startResponders(step: k, via: via, answer: answer, scheduledAt: t)
        }
    }

    mutating func requestDispatch(_ named: [String], by: String, step: Int, reason: String, late: JSONValue) throws {
        let targets = expandRoute(named)
        try stopResponders(reason: "emergency services were called")
        let refs = s.escalation?.references ?? []
        guard !targets.isEmpty else {
            // A step left with no target fails at once: never silence.
            let id = ids.notificationID()
            var d = DispatchRecord(notification: id, requestedAt: now, requestedBy: by, targets: named)
            d.failedAt = now
            s.dispatch = d
            emit(
                .dispatchRequested,
                ["step": .int(Int64(step)), "targets": .strings([]), "requested_by": .string(by), "late_ms": late])
            raiseDeliveryFailed(
                type: .dispatchRequested, targets: named, reason: "the dispatch step has no target (route unresolved)",
                notification: id, references: refs)
            return
        }
        mark(.dispatchRequested, who: by)
        let item = try notification(
            .dispatchRequested, targets: targets, isDispatch: true,
            ["escalation_step": .int(Int64(step)), "reason": .string(reason), "requested_by": .string(by)],
            references: refs, facts: { id, b in b.dispatchFacts(incident: id, requestedAt: b.now, references: refs) })
        s.dispatch = DispatchRecord(notification: item.id, requestedAt: now, requestedBy: by, targets: targets)
        s.dispatch?.webhookID = item.webhookIDs[0]
        addReferences([item.webhookIDs[0]])
        emit(
            .dispatchRequested,
            [
                "step": .int(Int64(step)), "targets": .strings(targets), "requested_by": .string(by),
                "notification": .string(item.id.rawValue), "webhook_ids": .strings(item.webhookIDs), "late_ms": late,
            ])
    }

    // MARK: People

    mutating func checkIn(source: CheckInSource, note: String?) throws {
        let previous = s.state
        switch s.state {
        case .ended:
            throw VigilError.sessionEnded
        case .active, .overdue, .escalating:
            try stopResponders(reason: "the person answered")
            if let e = s.escalation, previous != .active {
                for target in e.notifiedTargets {
                    _ = try notification(
                        .escalationResolved, targets: [target], isDispatch: false,
                        ["reason": .string("the person checked in (\(source.rawValue))")], references: e.references)
                }
                emit(
                    .escalationResolved,
                    [
                        "source": .string(source.rawValue), "notified_targets": .strings(e.notifiedTargets),
                        "last_step": e.lastStep.map { .int(Int64($0 + 1)) } ?? .null,
                    ])
            }
            if let d = s.dispatch, d.isLive, d.deliveredAt == nil {
                // A dispatch on the wire may still be accepted: that acceptance is owed a cancel.
                s.owedCancels.append(d.notification)
                updates.append(.cancel(d.notification, at: now))
            }
            s.state = .active
            s.escalation = nil
            s.dispatch = nil
            s.deliveryFailures = 0
            s.lastCheckInAt = now
            s.due = now + s.interval
            emit(
                .checkInReceived,
                [
                    "source": .string(source.rawValue), "note": .optional(note),
                    "previous_state": .string(previous.rawValue), "next_check_in_due_at": .time(s.due),
                ])
        case .dispatched:
            try stopResponders(reason: "the person answered")
            s.lastCheckInAt = now
            s.due = now + s.interval
            emit(
                .checkInReceived,
                [
                    "source": .string(source.rawValue), "note": .optional(note),
                    "previous_state": .string(previous.rawValue),
                ])
            try cancelAcceptedDispatch(
                reason: "the person checked in at \(now.rfc3339) (\(source.rawValue))", spoken: "the person checked in")
        }
    }

    /// Tells the target that accepted the dispatch that it may be called off, once.
    mutating func cancelAcceptedDispatch(reason: String, spoken: String) throws {
        if s.dispatch?.deliveries != nil { return try cancelAllDeliveries(reason: reason, spoken: spoken) }
        guard var d = s.dispatch, d.cancelledAt == nil, let target = d.target else { return }
        let refs = s.escalation?.references ?? []
        let item = try notification(
            .dispatchCancelled, targets: [target], isDispatch: false, ["reason": .string(reason)],
            references: refs,
            facts: { _, b in
                b.dispatchFacts(
                    incident: d.notification, requestedAt: d.requestedAt, references: refs, cancelReason: spoken)
            })
        addReferences([item.webhookIDs[0]])
        d.cancelledAt = now
        s.dispatch = d
        emit(
            .dispatchCancelled,
            ["target": .string(target), "reason": .string(reason), "webhook_id": .string(item.webhookIDs[0])])
    }

    mutating func acknowledge(by op: String, note: String?) throws {
        switch s.state {
        case .ended: throw VigilError.sessionEnded
        case .active: throw VigilError.conflict("nothing to acknowledge: the session is not overdue")
        case .overdue, .escalating:
            let until = now + s.policy.ackTimeout
            s.escalation?.acknowledgedBy = op
            s.escalation?.acknowledgedAt = now
            s.escalation?.pausedUntil = until
            s.escalation?.realarmAt = nil
            mark(.acknowledged, who: op)
            emit(
                .escalationAcknowledged,
                ["operator": .string(op), "note": .optional(note), "paused_until": .time(until)])
        case .dispatched:
            s.escalation?.acknowledgedBy = op
            s.escalation?.acknowledgedAt = now
            mark(.acknowledged, who: op)
            emit(.escalationAcknowledged, ["operator": .string(op), "note": .optional(note), "paused_until": .null])
        }
    }

    mutating func dispatchNow(by: String) throws {
        switch s.state {
        case .ended: throw VigilError.sessionEnded
        case .dispatched: return
        case .active, .overdue, .escalating:
            if let d = s.dispatch, d.isLive { return }
            guard let k = s.policy.firstDispatchStep else {
                throw VigilError.conflict("the session's policy has no dispatch step")
            }
            if s.escalation == nil { s.escalation = Escalation(missedDueAt: s.due) }
            s.state = .escalating
            var e = s.escalation ?? Escalation(missedDueAt: s.due)
            e.startedAt = e.startedAt ?? now
            e.lastStep = k
            e.nextStep = max(e.nextStep, k + 1)
            e.pausedUntil = nil
            s.escalation = e
            try requestDispatch(
                s.policy.steps[k].targets, by: by, step: k + 1, reason: "dispatch requested by an operator",
                late: .int(0))
        }
    }

    mutating func end(outcome: Outcome, by: String, note: String?) throws {
        guard s.state.isOpen else { throw VigilError.sessionEnded }
        if let d = s.dispatch, d.isLive, d.deliveredAt == nil {
            s.owedCancels.append(d.notification)
            updates.append(.cancel(d.notification, at: now))
        }
        if let d = s.dispatch, d.deliveredAt != nil, outcome != .emsAttended, d.status != .closed {
            try cancelAcceptedDispatch(
                reason: "the session was ended by an operator (outcome: \(outcome.rawValue))",
                spoken: "the hotline closed the session (\(outcome.rawValue.replacingOccurrences(of: "_", with: " ")))")
        }
        for n in s.escalation?.notifications ?? [] { updates.append(.cancel(n, at: now)) }
        try stopResponders(reason: "the session was closed")
        if outcome == .emsAttended { createFollowUp(because: "ems_attended") }
        s.state = .ended
        s.endedAt = now
        s.outcome = outcome
        emit(.sessionEnded, ["outcome": .string(outcome.rawValue), "by": .string(by), "note": .optional(note)])
    }

    mutating func update(_ patch: SessionPatch, by: String) throws {
        guard s.state.isOpen else { throw VigilError.sessionEnded }
        let before = s
        var fields: [String] = []
        if let c = patch.caller, c != s.caller {
            s.caller = c
            fields.append("caller")
        }
        var locationChanged = false
        if let l = patch.location, l != s.location {
            s.location = l
            fields.append("location")
            locationChanged = true
        }
        if let n = patch.notes, n != s.notes {
            s.notes = n
            fields.append("notes")
        }
        if let v = patch.substance, v != s.substance {
            s.substance = v
            fields.append("substance")
        }
        if let g = patch.grace, g != s.grace {
            s.grace = g
            fields.append("grace_s")
        }
        if let i = patch.interval, i != s.interval {
            s.interval = i
            fields.append("check_in_interval_s")
            if s.state == .active {
                let candidate = s.lastCheckInAt + i
                s.due = candidate > now ? candidate : now
            }
        }
        _ = try updateRouting(patch, locationChanged: locationChanged, by: by)
        guard !fields.isEmpty else { return }
        emit(.sessionUpdated, ["fields": .strings(fields), "by": .string(by), "next_check_in_due_at": .time(s.due)])
        try sendDispatchUpdate(changed: Builder.dispatchRelevantChanges(from: before, to: s))
    }

    mutating func dispatchStatus(_ status: DispatchStatus, reference: String?, by: String) throws {
        // A partner may report as soon as it holds the request, even before its 2xx reached us.
        try loopStatus(status, reference: reference, target: by)
    }

    // MARK: Delivery

    mutating func delivery(_ item: OutboxItem, _ outcome: DeliveryOutcome) throws {
        switch outcome {
        case .delivered(let index, let status, let attempts):
            updates.append(
                OutboxUpdate(
                    id: item.id, status: .delivered, targetIndex: index, attempts: attempts, nextAttemptAt: now,
                    onlyIfPending: false))
            let target = item.targets[index]
            let base: [String: JSONValue] = [
                "type": .string(item.type.rawValue), "target": .string(target), "status": .int(Int64(status)),
                "attempts": .int(Int64(attempts)), "webhook_id": .string(item.webhookIDs[index]),
                "notification": .string(item.id.rawValue),
            ]
            if item.isDispatch, let d = s.dispatch, d.notification == item.id {
                if recordDispatchDelivery(item, index: index, base: base) { delivered(item, index: index) }
            } else if item.isDispatch, let i = s.owedCancels.firstIndex(of: item.id) {
                s.owedCancels.remove(at: i)
                var data = base
                data["after_cancel"] = true
                emit(.dispatchAccepted, data)
                let reason = "the request was withdrawn before it was accepted (session \(s.state.rawValue))"
                let refs = [item.webhookIDs[index]]
                let cancel = try notification(
                    .dispatchCancelled, targets: [target], isDispatch: false, ["reason": .string(reason)],
                    references: refs, facts: { _, b in b.withdrawnFacts(item, references: refs) })
                emit(
                    .dispatchCancelled,
                    [
                        "target": .string(target), "reason": .string(reason),
                        "webhook_id": .string(cancel.webhookIDs[0]),
                    ])
            } else if !item.isDispatch {
                emit(.deliverySucceeded, base)
            }
        case .targetFailed(let index, let why, let attempts):
            let next = index + 1
            var data: [String: JSONValue] = [
                "type": .string(item.type.rawValue), "target": .string(item.targets[index]),
                "reason": .string(why), "attempts": .int(Int64(attempts)),
                "webhook_id": .string(item.webhookIDs[index]), "notification": .string(item.id.rawValue),
            ]
            if next < item.targets.count {
                data["next_target"] = .string(item.targets[next])
                updates.append(
                    OutboxUpdate(id: item.id, status: .pending, targetIndex: next, attempts: 0, nextAttemptAt: now))
                emit(.deliveryTargetFailed, data)
                return
            }
            updates.append(
                OutboxUpdate(
                    id: item.id, status: .failed, targetIndex: index, attempts: attempts, nextAttemptAt: now))
            emit(.deliveryTargetFailed, data)
            if let i = s.owedCancels.firstIndex(of: item.id) {
                // Withdrawn and refused everywhere: nobody accepted, nobody is owed a cancel.
                s.owedCancels.remove(at: i)
                return
            }
            if item.isDispatch {
                guard isUndeliveredCurrentDispatch(item), var d = s.dispatch else { return }
                d.failedAt = now
                s.dispatch = d
            }
            s.deliveryFailures += 1
            emit(
                .deliveryFailed,
                [
                    "type": .string(item.type.rawValue), "targets": .strings(item.targets), "reason": .string(why),
                    "notification": .string(item.id.rawValue), "dispatch": .bool(item.isDispatch),
                ])
            if item.type == .responderRequested { try responderUnreachable(item) }
            if item.type != .deliveryFailed {
                for target in s.policy.onDeliveryFailure {
                    _ = try notification(
                        .deliveryFailed, targets: [target], isDispatch: false,
                        [
                            "failed_type": .string(item.type.rawValue), "failed_targets": .strings(item.targets),
                            "reason": .string("no target accepted \(item.type.rawValue): \(why)"),
                        ], references: item.webhookIDs)
                }
            }
        }
    }

    // MARK: Notifications

    /// Writes a notification for `targets` with the session as it is now, serialized once.
    @discardableResult
    mutating func notification(
        _ type: EventType, targets: [String], isDispatch: Bool, _ extra: [String: JSONValue], references: [String],
        facts: ((NotificationID, Builder) -> DispatchFacts)? = nil
    ) throws -> OutboxItem {
        let id = ids.notificationID()
        s.notificationCount += 1
        var data = extra
        data["session"] = try VigilJSON.decode(
            JSONValue.self, from: VigilJSON.encode(SessionView(s, checkInURL: nil)))
        data["sequence"] = .int(Int64(s.notificationCount))
        data["references"] = .strings(references)
        if let e = s.escalation { data["missed_check_in_due_at"] = .time(e.missedDueAt) }
        if let facts {
            data["dispatch_facts"] = try VigilJSON.decode(JSONValue.self, from: VigilJSON.encode(facts(id, self)))
        }
        let body = try VigilJSON.encode(WebhookEnvelope(type: type, timestamp: now, data: .object(data)))
        let item = OutboxItem(
            id: id, sessionID: s.id, type: type, targets: targets,
            webhookIDs: targets.map { _ in ids.webhookID() }, body: body, createdAt: now, isDispatch: isDispatch)
        outbox.append(item)
        return item
    }
}
