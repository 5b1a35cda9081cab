/// The closed dispatch loop: a 2xx is not a dispatcher who saw it (docs/contract.md, "The closed loop").
extension Builder {
    func loop(_ target: TargetName) -> LoopTimeouts { s.policy.loops?[target] ?? LoopTimeouts() }

    /// A dispatch target answered 2xx for the current dispatch notification: record it, start its accept clock,
    /// and create the follow-up. Returns false when this delivery was already recorded.
    mutating func recordDispatchDelivery(_ item: OutboxItem, index: Int, _ accepted: EventData.DispatchAccepted)
        -> Bool
    {
        guard var d = s.dispatch, d.notification == item.id else { return false }
        var list = d.deliveries ?? []
        guard !list.contains(where: { $0.notification == item.id }) else { return false }
        let target = item.targets[index]
        var rec = TargetDelivery(
            target: target, notification: item.id, webhookID: item.webhookIDs[index], deliveredAt: now)
        let t = loop(target)
        // A partner may report before its 2xx reached us: an acceptance already on file counts.
        if let report = (d.reports ?? []).first(where: { $0.target == target && $0.status == .accepted }) {
            rec.acceptedAt = report.at
            if let a = t.arrival { rec.arriveBy = report.at + a }
        } else if let a = t.accept {
            rec.acceptBy = now + a
        }
        list.append(rec)
        d.deliveries = list
        if d.deliveredAt == nil { d.deliveredAt = now }
        d.target = target
        d.failedAt = nil
        s.dispatch = d
        if s.state.isOpen { s.state = .dispatched }
        var event = accepted
        event.acceptBy = rec.acceptBy
        emit(event)
        createFollowUp(because: "dispatched")
        return true
    }

    /// Whether a failed dispatch notification belongs to the current dispatch and nobody answered it.
    func isUndeliveredCurrentDispatch(_ item: OutboxItem) -> Bool {
        guard let d = s.dispatch, d.notification == item.id else { return false }
        return !(d.deliveries ?? []).contains { $0.notification == item.id }
    }

    /// Time passed on a dispatched session: a target that did not accept in time, or a crew that did not arrive.
    mutating func loopDeadlines() throws {
        guard var d = s.dispatch, var list = d.deliveries else { return }
        for i in list.indices {
            let rec = list[i]
            guard let due = rec.nextDeadline, now >= due else { continue }
            if rec.acceptedAt == nil {
                try unaccepted(
                    i, reason: "no accepted within \(loop(rec.target).accept?.wholeSeconds ?? 0) s of the 2xx",
                    scheduledAt: due)
                return
            }
            list[i].arrivalOverdueAt = now
            d.deliveries = list
            s.dispatch = d
            emit(
                EventData.DispatchArrivalOverdue(
                    target: rec.target, acceptedAt: rec.acceptedAt,
                    arrivalTimeoutS: loop(rec.target).arrival?.wholeSeconds ?? 0, scheduledAt: due, lateMs: now - due))
        }
    }

    /// The target of delivery `i` did not accept (timeout or `rejected`): cancel it, alarm, and send the dispatch
    /// to the next target of the step's failover list at once; with none left, `delivery.failed`.
    mutating func unaccepted(_ i: Int, reason: String, scheduledAt: Timestamp?) throws {
        guard var d = s.dispatch, var list = d.deliveries, list.indices.contains(i) else { return }
        let target = list[i].target
        list[i].unacceptedAt = now
        d.deliveries = list
        s.dispatch = d
        let refs = s.escalation?.references ?? []
        let cancelReason = "moved to the next centre: \(reason)"
        let incident = list[i].notification
        let requestedAt = d.requestedAt
        let cancel = try notification(
            .dispatchCancelled, targets: [target], isDispatch: false,
            WebhookDetails(reason: cancelReason, failover: true), references: refs,
            facts: { _, b in
                b.dispatchFacts(
                    incident: incident, requestedAt: requestedAt, references: refs,
                    cancelReason: "the dispatch moved to the next centre")
            })
        addReferences([cancel.webhookIDs[0]])
        list[i].cancelledAt = now
        d.deliveries = list
        s.dispatch = d
        emit(
            EventData.DispatchCancelled(
                target: target, reason: cancelReason, failover: true, webhookID: cancel.webhookIDs[0]))
        // The rest of the failover list, after this target.
        let tried = Set(list.map(\.target))
        let rest: [TargetName]
        if let k = d.targets.firstIndex(of: target) {
            rest = d.targets[(k + 1)...].filter { !tried.contains($0) }
        } else {
            rest = []
        }
        var event = EventData.DispatchUnaccepted(
            target: target, reason: reason, alarm: true, nextTarget: rest.first, scheduledAt: scheduledAt,
            lateMs: scheduledAt.map { now - $0 })
        guard !rest.isEmpty else {
            emit(event)
            d.failedAt = now
            s.dispatch = d
            raiseDeliveryFailed(
                type: .dispatchRequested, targets: d.targets, reason: "no target accepted the dispatch: \(reason)",
                notification: d.notification, references: refs)
            return
        }
        let item = try notification(
            .dispatchRequested, targets: rest, isDispatch: true,
            WebhookDetails(
                reason: "the dispatch moved from \(target): \(reason)", requestedBy: d.requestedBy,
                failoverFrom: target), references: s.escalation?.references ?? refs,
            facts: { id, b in
                b.dispatchFacts(incident: id, requestedAt: b.now, references: b.s.escalation?.references ?? refs)
            })
        d.notification = item.id
        d.failedAt = nil
        d.webhookID = item.webhookIDs[0]
        d.sentTo = (d.sentTo ?? []) + [rest[0]]
        s.dispatch = d
        addReferences([item.webhookIDs[0]])
        event.notification = item.id
        event.webhookIDs = item.webhookIDs
        emit(event)
    }

    /// The alarm for a notification that no target took: the event, and `on_delivery_failure` targets told.
    mutating func raiseDeliveryFailed(
        type: EventType, targets: [TargetName], reason: String, notification id: NotificationID,
        references: [WebhookID]
    ) {
        s.deliveryFailures += 1
        emit(EventData.DeliveryFailed(type: type, targets: targets, reason: reason, notification: id, dispatch: true))
        for target in s.policy.onDeliveryFailure {
            _ = try? notification(
                .deliveryFailed, targets: [target], isDispatch: false,
                WebhookDetails(reason: reason, failedType: type, failedTargets: targets), references: references)
        }
    }

    /// A partner's report: kept in the list, and acted on by the closed loop.
    mutating func loopStatus(_ status: DispatchStatus, reference: String?, target: TargetName) throws {
        guard var d = s.dispatch else {
            throw VigilError.conflict("no dispatch of this session has been requested")
        }
        guard d.reached(target) else {
            throw VigilError.conflict("this session's dispatch was not sent to \(target)")
        }
        var reports = d.reports ?? []
        if let last = reports.last(where: { $0.target == target }), last.status == status,
            reference == nil || reference == last.reference
        {
            return
        }
        reports.append(StatusReport(target: target, status: status, reference: reference, at: now))
        d.reports = reports
        d.status = status
        if let reference { d.reference = reference }
        s.dispatch = d
        emit(
            EventData.DispatchStatusReported(
                status: status, reference: reference ?? d.reference, by: ActorName(rawValue: target.rawValue),
                target: target))
        guard var list = d.deliveries, let i = list.lastIndex(where: { $0.target == target }) else { return }
        let rec = list[i]
        if rec.unacceptedAt != nil || rec.cancelledAt != nil {
            if status == .accepted || status == .enRoute || status == .onScene {
                // Two crews may be coming: never ignored.
                emit(
                    EventData.DispatchAcceptedLate(
                        target: target, status: status, alarm: true,
                        reason: "a target reported after the dispatch was cancelled to it: two crews may be coming"))
            }
            return
        }
        switch status {
        case .accepted, .enRoute:
            guard rec.acceptedAt == nil else { return }
            list[i].acceptedAt = now
            if let a = loop(target).arrival { list[i].arriveBy = now + a }
        case .onScene:
            if list[i].acceptedAt == nil { list[i].acceptedAt = now }
            list[i].onSceneAt = now
        case .rejected:
            guard rec.acceptedAt == nil else {
                droppedAfterAccept(&list[i], status)
                break
            }
            try unaccepted(i, reason: "\(target) rejected the dispatch", scheduledAt: nil)
            return
        case .closed:
            droppedAfterAccept(&list[i], status)
        }
        d.deliveries = list
        s.dispatch = d
    }

    /// Every target that answered 2xx and was not cancelled gets `dispatch.cancelled` (with `sparingClosed`, but
    /// one that itself reported `closed`: each target's own last report counts, never another's); a failover
    /// notification still on the wire is withdrawn (and owed a cancel should it be answered anyway).
    mutating func cancelAllDeliveries(reason: String, spoken: String, sparingClosed: Bool = false) throws {
        guard var d = s.dispatch else { return }
        var list = d.deliveries ?? []
        if d.isLive, !list.contains(where: { $0.notification == d.notification }), d.cancelledAt == nil {
            s.owedCancels.append(d.notification)
            updates.append(.cancel(d.notification, at: now))
        }
        var sent = false
        for i in list.indices where list[i].cancelledAt == nil {
            if sparingClosed, d.lastStatus(of: list[i].target) == .closed { continue }
            let refs = s.escalation?.references ?? []
            let incident = list[i].notification
            let requestedAt = d.requestedAt
            let item = try notification(
                .dispatchCancelled, targets: [list[i].target], isDispatch: false, WebhookDetails(reason: reason),
                references: refs,
                facts: { _, b in
                    b.dispatchFacts(
                        incident: incident, requestedAt: requestedAt, references: refs, cancelReason: spoken)
                })
            addReferences([item.webhookIDs[0]])
            list[i].cancelledAt = now
            sent = true
            emit(EventData.DispatchCancelled(target: list[i].target, reason: reason, webhookID: item.webhookIDs[0]))
        }
        d.deliveries = list
        if sent || d.cancelledAt == nil { d.cancelledAt = now }
        s.dispatch = d
    }

    // MARK: Follow-up

    /// One follow-up per session, due `follow_up.after_s` after the first dispatch or `ems_attended` end.
    /// A partner that accepted and then reports `rejected` or `closed` with no crew on scene: nobody may be coming.
    /// Raised once per target (its arrival timer stops: this alarm replaces it).
    mutating func droppedAfterAccept(_ rec: inout TargetDelivery, _ status: DispatchStatus) {
        guard let accepted = rec.acceptedAt, rec.onSceneAt == nil, rec.droppedAt == nil else { return }
        rec.droppedAt = now
        rec.arriveBy = nil
        emit(
            EventData.DispatchDropped(
                target: rec.target, status: status, acceptedAt: accepted, alarm: true,
                reason:
                    "\(rec.target) reported \(status.rawValue) after accepting, with no crew on scene: nobody may be coming"
            ))
    }

    mutating func createFollowUp(because why: String) {
        guard s.followUp == nil else { return }
        let due = now + (s.policy.followUpAfter ?? FollowUp.defaultDelay)
        let f = FollowUp(id: FollowUp.id(for: s.id), createdAt: now, dueAt: due)
        s.followUp = f
        emit(EventData.FollowUpCreated(followUp: f.id, dueAt: due, because: why))
    }

    mutating func closeFollowUp(
        _ outcome: FollowUpOutcome, naloxoneUsed: Bool?, note: String?, by: ActorName, referrals: [Referral] = []
    ) throws {
        guard var f = s.followUp else { throw VigilError(.notFound, "no such follow-up") }
        guard f.closedAt == nil else { throw VigilError.conflict("the follow-up is already closed") }
        f.outcome = outcome
        f.naloxoneUsed = naloxoneUsed
        f.note = note
        f.closedAt = now
        f.closedBy = by
        if !referrals.isEmpty { f.referrals = referrals.map(\.id) }
        s.followUp = f
        // The note stays in the sealed snapshot: events carry no personal data.
        var closed = EventData.FollowUpClosed(followUp: f.id, outcome: outcome, naloxoneUsed: naloxoneUsed, by: by)
        if !referrals.isEmpty { closed.referrals = referrals }
        emit(closed)
    }
}
