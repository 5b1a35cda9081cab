/// What delivery reports (a target's 2xx, or its failure and the failover), and the notifications decisions create.
extension Builder {
    // MARK: Delivery

    mutating func delivery(_ item: OutboxItem, _ outcome: DeliveryOutcome) throws {
        switch outcome {
        case .delivered(let index, let status, let attempts):
            updates.append(
                OutboxUpdate(
                    id: item.id, status: .delivered, targetIndex: index, attempts: attempts, nextAttemptAt: now,
                    onlyIfPending: false))
            let target = item.targets[index]
            let accepted = EventData.DispatchAccepted(
                type: item.type, target: target, status: status, attempts: attempts,
                webhookID: item.webhookIDs[index], notification: item.id)
            if item.isDispatch, let d = s.dispatch, d.notification == item.id {
                if recordDispatchDelivery(item, index: index, accepted) { delivered(item, index: index) }
            } else if item.isDispatch, let i = s.owedCancels.firstIndex(of: item.id) {
                s.owedCancels.remove(at: i)
                var late = accepted
                late.afterCancel = true
                emit(late)
                let reason = "the request was withdrawn before it was accepted (session \(s.state.rawValue))"
                let refs = [item.webhookIDs[index]]
                let cancel = try notification(
                    .dispatchCancelled, targets: [target], isDispatch: false, WebhookDetails(reason: reason),
                    references: refs, facts: { _, b in b.withdrawnFacts(item, references: refs) })
                emit(EventData.DispatchCancelled(target: target, reason: reason, webhookID: cancel.webhookIDs[0]))
            } else if !item.isDispatch {
                emit(
                    EventData.DeliverySucceeded(
                        type: item.type, target: target, status: status, attempts: attempts,
                        webhookID: item.webhookIDs[index], notification: item.id))
            }
        case .targetFailed(let index, let why, let attempts):
            let next = index + 1
            var failed = EventData.DeliveryTargetFailed(
                type: item.type, target: item.targets[index], reason: why, attempts: attempts,
                webhookID: item.webhookIDs[index], notification: item.id)
            if next < item.targets.count {
                failed.nextTarget = item.targets[next]
                if item.isDispatch, var d = s.dispatch, d.notification == item.id {
                    d.sentTo = (d.sentTo ?? []) + [item.targets[next]]
                    s.dispatch = d
                }
                updates.append(
                    OutboxUpdate(id: item.id, status: .pending, targetIndex: next, attempts: 0, nextAttemptAt: now))
                emit(failed)
                return
            }
            updates.append(
                OutboxUpdate(
                    id: item.id, status: .failed, targetIndex: index, attempts: attempts, nextAttemptAt: now))
            emit(failed)
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
                EventData.DeliveryFailed(
                    type: item.type, targets: item.targets, reason: why, notification: item.id,
                    dispatch: item.isDispatch))
            if item.type == .responderRequested { try responderUnreachable(item.id) }
            if item.type != .deliveryFailed {
                for target in s.policy.onDeliveryFailure {
                    _ = try notification(
                        .deliveryFailed, targets: [target], isDispatch: false,
                        WebhookDetails(
                            reason: "no target accepted \(item.type.rawValue): \(why)", failedType: item.type,
                            failedTargets: item.targets), references: item.webhookIDs)
                }
            }
        }
    }

    // MARK: Notifications

    /// Writes a notification for `targets` with the session as it is now, serialized once.
    @discardableResult
    mutating func notification(
        _ type: EventType, targets: [TargetName], isDispatch: Bool, _ details: WebhookDetails,
        references: [WebhookID], facts: ((NotificationID, Builder) -> DispatchFacts)? = nil
    ) throws -> OutboxItem {
        let id = ids.notificationID()
        s.notificationCount += 1
        let data = WebhookData(
            details: details, session: SessionView(s, checkInURL: nil), sequence: s.notificationCount,
            references: references, missedCheckInDueAt: s.escalation?.missedDueAt, dispatchFacts: facts?(id, self))
        let body = try VigilJSON.encode(WebhookEnvelope(type: type, timestamp: now, data: try data.json()))
        let item = OutboxItem(
            id: id, sessionID: s.id, type: type, targets: targets,
            webhookIDs: targets.map { _ in ids.webhookID() }, body: body, createdAt: now, isDispatch: isDispatch)
        outbox.append(item)
        return item
    }
}
