/// What people do: check in, acknowledge, dispatch now, end, update, report a dispatch's status.
extension Builder {
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
                        WebhookDetails(reason: "the person checked in (\(source.rawValue))"),
                        references: e.references)
                }
                emit(
                    EventData.EscalationResolved(
                        source: source, notifiedTargets: e.notifiedTargets, lastStep: e.lastStep.map { $0 + 1 }))
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
                EventData.CheckInReceived(
                    source: source, note: note, previousState: previous, nextCheckInDueAt: s.due))
        case .dispatched:
            try stopResponders(reason: "the person answered")
            s.lastCheckInAt = now
            s.due = now + s.interval
            emit(EventData.CheckInReceived(source: source, note: note, previousState: previous))
            try cancelAcceptedDispatch(
                reason: "the person checked in at \(now.rfc3339) (\(source.rawValue))", spoken: "the person checked in")
        }
    }

    /// Tells the target that accepted the dispatch that it may be called off, once.
    mutating func cancelAcceptedDispatch(reason: String, spoken: String, sparingClosed: Bool = false) throws {
        if s.dispatch?.deliveries != nil {
            return try cancelAllDeliveries(reason: reason, spoken: spoken, sparingClosed: sparingClosed)
        }
        guard var d = s.dispatch, d.cancelledAt == nil, let target = d.target else { return }
        if sparingClosed, d.status == .closed { return }
        let refs = s.escalation?.references ?? []
        let item = try notification(
            .dispatchCancelled, targets: [target], isDispatch: false, WebhookDetails(reason: reason),
            references: refs,
            facts: { _, b in
                b.dispatchFacts(
                    incident: d.notification, requestedAt: d.requestedAt, references: refs, cancelReason: spoken)
            })
        addReferences([item.webhookIDs[0]])
        d.cancelledAt = now
        s.dispatch = d
        emit(EventData.DispatchCancelled(target: target, reason: reason, webhookID: item.webhookIDs[0]))
    }

    mutating func acknowledge(by op: ActorName, note: String?) throws {
        switch s.state {
        case .ended: throw VigilError.sessionEnded
        case .active: throw VigilError.conflict("nothing to acknowledge: the session is not overdue")
        case .overdue, .escalating:
            let until = now + s.policy.ackTimeout
            s.escalation?.acknowledgedBy = op
            s.escalation?.acknowledgedAt = now
            s.escalation?.pausedUntil = until
            s.escalation?.realarmAt = nil
            mark(.acknowledged, who: op.rawValue)
            emit(EventData.EscalationAcknowledged(operator: op, note: note, pausedUntil: until))
        case .dispatched:
            s.escalation?.acknowledgedBy = op
            s.escalation?.acknowledgedAt = now
            mark(.acknowledged, who: op.rawValue)
            emit(EventData.EscalationAcknowledged(operator: op, note: note))
        }
    }

    mutating func dispatchNow(by: ActorName) throws {
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
                late: .zero)
        }
    }

    mutating func end(outcome: Outcome, by: ActorName, note: String?) throws {
        guard s.state.isOpen else { throw VigilError.sessionEnded }
        if let d = s.dispatch, d.isLive, d.deliveredAt == nil {
            s.owedCancels.append(d.notification)
            updates.append(.cancel(d.notification, at: now))
        }
        if let d = s.dispatch, d.deliveredAt != nil, outcome != .emsAttended {
            // A target that closed its own incident needs no cancel; every other one that answered 2xx does.
            try cancelAcceptedDispatch(
                reason: "the session was ended by an operator (outcome: \(outcome.rawValue))",
                spoken: "the hotline closed the session (\(outcome.rawValue.replacingOccurrences(of: "_", with: " ")))",
                sparingClosed: true)
        }
        for n in s.escalation?.notifications ?? [] { updates.append(.cancel(n, at: now)) }
        try stopResponders(reason: "the session was closed")
        if outcome == .emsAttended { createFollowUp(because: "ems_attended") }
        s.state = .ended
        s.endedAt = now
        s.outcome = outcome
        emit(EventData.SessionEnded(outcome: outcome, by: by, note: note))
    }

    mutating func update(_ patch: SessionPatch, by: ActorName) throws {
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
        if let r = patch.reminders, r != (s.reminders ?? true) {
            s.reminders = r
            fields.append("reminders")
        }
        if let v = patch.language, v != s.spokenLanguage {
            s.language = v
            fields.append("language")
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
        emit(EventData.SessionUpdated(fields: fields, by: by, nextCheckInDueAt: s.due))
        try sendDispatchUpdate(changed: Builder.dispatchRelevantChanges(from: before, to: s))
    }

    mutating func dispatchStatus(_ status: DispatchStatus, reference: String?, by: TargetName) throws {
        // A partner may report as soon as it holds the request, even before its 2xx reached us.
        try loopStatus(status, reference: reference, target: by)
    }
}
