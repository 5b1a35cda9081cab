/// What dispatchers receive: the facts each `dispatch.*` message carries, and `dispatch.updated` when the place or
/// the number changes after a target took the dispatch.
extension Builder {
    /// The facts of a `dispatch.*` message of the current escalation; `incident` is the dispatch notification.
    func dispatchFacts(
        incident: NotificationID, requestedAt: Timestamp?, references: [WebhookID], changed: [String]? = nil,
        cancelReason: String? = nil
    ) -> DispatchFacts {
        let e = s.escalation
        return DispatchFacts(
            incident: DispatchFacts.incidentReference(incident), lastContactAt: s.lastCheckInAt,
            missedCheckInDueAt: e?.missedDueAt ?? s.due, requestedAt: requestedAt,
            operatorOnDuty: e?.acknowledgedBy?.rawValue,
            marks: e?.marks ?? [], changed: changed, cancelReason: cancelReason,
            referencesSent: sentTimes(references))
    }

    /// When each reference was sent, as the escalation recorded it (now, for one it did not: older snapshots).
    func sentTimes(_ references: [WebhookID]) -> [Timestamp] {
        guard let e = s.escalation else { return references.map { _ in now } }
        let times = e.referenceTimes ?? []
        return references.map { id in
            guard let i = e.references.firstIndex(of: id), i < times.count else { return now }
            return times[i]
        }
    }

    /// Records webhook ids sent in this escalation, with the time, for later `references`.
    mutating func addReferences(_ ids: [WebhookID]) {
        guard var e = s.escalation else { return }
        var times = e.referenceTimes ?? []
        // Snapshots from before the times were kept: pad so that the two lists stay aligned.
        while times.count < e.references.count { times.append(now) }
        e.references.append(contentsOf: ids)
        times.append(contentsOf: ids.map { _ in now })
        e.referenceTimes = times
        s.escalation = e
    }

    /// Notes what the escalation did, for the history line.
    mutating func mark(_ kind: EscalationMark.Kind, who: String?) {
        guard var e = s.escalation else { return }
        e.marks = (e.marks ?? []) + [EscalationMark(kind, at: now, who: who)]
        s.escalation = e
    }

    /// After a target answered 2xx, the reference it was given is its own webhook id, not the first target's.
    mutating func delivered(_ item: OutboxItem, index: Int) {
        guard index < item.webhookIDs.count, var e = s.escalation else { return }
        let id = item.webhookIDs[index]
        s.dispatch?.webhookID = id
        if index > 0, let i = e.references.firstIndex(of: item.webhookIDs[0]) {
            e.references[i] = id
            s.escalation = e
        }
    }

    /// The parts of a patch a dispatcher acts on: where, how to get in, whom to call.
    static func dispatchRelevantChanges(from old: Session, to new: Session) -> [String] {
        var changed: [String] = []
        var a = old.location
        var b = new.location
        a.accessNotes = nil
        b.accessNotes = nil
        if a != b { changed.append("location") }
        if old.location.accessNotes != new.location.accessNotes { changed.append("access_notes") }
        if old.caller.callbackNumber != new.caller.callbackNumber { changed.append("callback_number") }
        return changed
    }

    /// Sends `dispatch.updated`, the whole dispatch payload again with `references`, to the target holding the
    /// dispatch (it answered 2xx and was not cancelled since), when a change matters to the responders.
    mutating func sendDispatchUpdate(changed: [String]) throws {
        guard !changed.isEmpty, s.state.isOpen, let d = s.dispatch, d.deliveredAt != nil, d.cancelledAt == nil,
            let target = d.target
        else { return }
        let refs = s.escalation?.references ?? []
        let facts = dispatchFacts(
            incident: d.notification, requestedAt: d.requestedAt, references: refs, changed: changed)
        let reason = "changed after the dispatch: " + changed.joined(separator: ", ")
        let item = try notification(
            .dispatchUpdated, targets: [target], isDispatch: false, WebhookDetails(reason: reason), references: refs,
            facts: { _, _ in facts })
        addReferences([item.webhookIDs[0]])
        emit(EventData.DispatchUpdated(target: target, changed: changed, webhookID: item.webhookIDs[0]))
    }

    /// The facts of a cancel owed to a target that accepted a request already withdrawn: those of the request, with
    /// the reason.
    func withdrawnFacts(_ item: OutboxItem, references: [WebhookID]) -> DispatchFacts {
        let stored = (try? VigilJSON.decode(JSONValue.self, from: item.body))?["data"]?["dispatch_facts"]
        var facts =
            stored.flatMap { try? JSONValueDecoder.decode(DispatchFacts.self, from: $0) }
            ?? DispatchFacts(
                incident: DispatchFacts.incidentReference(item.id), lastContactAt: s.lastCheckInAt,
                missedCheckInDueAt: s.due, requestedAt: item.createdAt, operatorOnDuty: nil, marks: [])
        facts.cancelReason =
            "the request was withdrawn before it was delivered (the person checked in or the session ended)"
        facts.changed = nil
        facts.referencesSent = references.map { _ in item.createdAt }
        return facts
    }
}
