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
