/// The `contact: responders` step and the responders' answers (CONTRACT, "Responders").
///
/// Responders are contacted one at a time, in order; each has the step's `answer_s` to answer before the next is
/// contacted. The time to answer is a deadline of the session like a step's, so it survives a restart. Later steps
/// keep their own times: when one fires, or the person checks in, those still waiting are told they are no longer
/// needed.
extension Builder {
    /// The default pause of an *I'm going*.
    static let defaultGoingPause = Millis.seconds(300)

    /// Fires a `contact: responders` step.
    mutating func startResponders(step k: Int, via: String, answer: Millis, scheduledAt t: Timestamp) throws {
        let count = s.responders?.count ?? 0
        let late = JSONValue.int((now - t).value)
        guard count > 0 else {
            emit(.responderNone, ["step": .int(Int64(k + 1)), "scheduled_at": .time(t), "late_ms": late])
            return
        }
        s.responderRun = ResponderRun(step: k, via: via, answerWindow: answer)
        emit(
            .escalationStep,
            [
                "step": .int(Int64(k + 1)), "action": "contact_responders", "targets": .strings([via]),
                "responders": .int(Int64(count)), "scheduled_at": .time(t), "late_ms": late,
            ])
        try contactNextResponder()
    }

    /// Contacts the next responder of the run, or records that nobody is left to ask.
    mutating func contactNextResponder() throws {
        guard var run = s.responderRun, run.stoppedAt == nil, run.going == nil else { return }
        let responders = s.responders ?? []
        run.current = nil
        run.answerBy = nil
        run.notification = nil
        guard run.next < responders.count else {
            s.responderRun = run
            return
        }
        let i = run.next
        run.next += 1
        let token = ids.checkInToken()
        let hash = SHA256Digest.hex(token)
        var links = s.responderLinks ?? []
        // One link per responder per session: a new contact replaces the earlier link, whose token stops working.
        links.removeAll { $0.index == i }
        links.append(ResponderLink(index: i, tokenHash: hash, issuedAt: now))
        s.responderLinks = links
        let base = s.policy.linkBase.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? ""
        let url = base + "/r/" + token
        let r = responders[i]
        let message = ResponderMessage.render(
            s.policy.responderMessage, responder: r, alias: s.caller.alias, location: s.location, link: url)
        let location = try VigilJSON.decode(JSONValue.self, from: VigilJSON.encode(s.location))
        let item = try responderNotification(
            .responderRequested, via: run.via,
            [
                "responder": responderJSON(r), "message": .string(message), "location": location,
                "responder_url": .string(url), "attempt": .int(Int64(i + 1)),
                "answer_s": .int(run.answerWindow.wholeSeconds),
            ])
        run.current = i
        run.answerBy = now + run.answerWindow
        run.notification = item.id
        if !run.waiting.contains(i) { run.waiting.append(i) }
        s.responderRun = run
        emit(
            .responderRequested,
            [
                "attempt": .int(Int64(i + 1)), "target": .string(run.via),
                "webhook_id": .string(item.webhookIDs[0]), "answer_by": .time(run.answerBy),
            ])
    }

    /// When the current responder's time to answer has passed (before the next step's time, which goes first
    /// otherwise), moves on to the next responder; true when it did.
    mutating func responderTimeoutIfDue(before stepTime: Timestamp?) throws -> Bool {
        guard let run = s.responderRun, let by = run.answerBy, let i = run.current, now >= by else { return false }
        if let stepTime, stepTime < by { return false }
        emit(
            .responderNoAnswer,
            [
                "attempt": .int(Int64(i + 1)), "scheduled_at": .time(by), "late_ms": .int((now - by).value),
                "left": .int(Int64(max(0, (s.responders?.count ?? 0) - run.next))),
            ])
        try contactNextResponder()
        return true
    }

    /// The gateway refused a responder's request: the next responder is contacted at once.
    mutating func responderUnreachable(_ item: OutboxItem) throws {
        guard var run = s.responderRun, run.notification == item.id, let i = run.current else { return }
        // They never got the request: nobody owes them a cancel.
        run.waiting.removeAll { $0 == i }
        s.responderRun = run
        emit(
            .responderNoAnswer,
            [
                "attempt": .int(Int64(i + 1)), "reason": "the request could not be delivered",
                "left": .int(Int64(max(0, (s.responders?.count ?? 0) - run.next))),
            ])
        try contactNextResponder()
    }

    /// Ends the run: every responder still waiting gets `responder.cancelled`.
    mutating func stopResponders(reason: String) throws {
        guard var run = s.responderRun, run.stoppedAt == nil else { return }
        let responders = s.responders ?? []
        for i in run.waiting where i < responders.count {
            let item = try responderNotification(
                .responderCancelled, via: run.via,
                [
                    "responder": responderJSON(responders[i]), "attempt": .int(Int64(i + 1)),
                    "message": .string("You are no longer needed for this request. Thank you."),
                    "reason": .string(reason),
                ])
            emit(
                .responderCancelled,
                [
                    "attempt": .int(Int64(i + 1)), "target": .string(run.via), "reason": .string(reason),
                    "webhook_id": .string(item.webhookIDs[0]),
                ])
        }
        run.waiting = []
        run.current = nil
        run.answerBy = nil
        run.stoppedAt = now
        s.responderRun = run
    }

    /// A responder's answer from their page.
    mutating func responderAnswer(_ i: Int, _ answer: ResponderAnswer) throws {
        guard s.state.isOpen else { throw VigilError.sessionEnded }
        guard var links = s.responderLinks, let li = links.firstIndex(where: { $0.index == i }) else {
            throw VigilError.conflict("this responder was not contacted")
        }
        if links[li].answer == answer, s.state == .active { return }
        links[li].answer = answer
        links[li].answeredAt = now
        s.responderLinks = links
        if var run = s.responderRun {
            run.waiting.removeAll { $0 == i }
            if run.current == i {
                run.current = nil
                run.answerBy = nil
            }
            s.responderRun = run
        }
        let attempt = JSONValue.int(Int64(i + 1))
        switch answer {
        case .going:
            var data: [String: JSONValue] = ["attempt": attempt]
            if s.state == .overdue || s.state == .escalating, var e = s.escalation {
                // Like an acknowledge: the ladder waits while the responder is on the way, then resumes.
                let until = now + (s.policy.goingPause ?? Self.defaultGoingPause)
                if (e.pausedUntil ?? now) < until { e.pausedUntil = until }
                e.realarmAt = nil
                s.escalation = e
                data["paused_until"] = .time(e.pausedUntil)
                if var run = s.responderRun, run.stoppedAt == nil {
                    run.going = i
                    s.responderRun = run
                }
            }
            emit(.responderGoing, data)
        case .ok:
            emit(.responderOk, ["attempt": attempt, "previous_state": .string(s.state.rawValue)])
            if s.state != .active { try checkIn(source: .responder, note: nil) }
        case .ems:
            if s.state == .dispatched || (s.dispatch?.isLive ?? false) {
                emit(.responderEms, ["attempt": attempt, "dispatched": false, "reason": "a dispatch was already sent"])
            } else if s.policy.firstDispatchStep != nil {
                emit(.responderEms, ["attempt": attempt, "dispatched": true])
                try dispatchNow(by: "responder")
            } else {
                // Never silence: with nothing to dispatch to, the operator is alarmed and must call.
                s.deliveryFailures += 1
                emit(
                    .responderEms,
                    ["attempt": attempt, "dispatched": false, "reason": "the session's policy has no dispatch step"])
            }
        }
    }

    /// A notification to the gateway `via` about one responder; the session part names only its id, state and
    /// the caller's alias.
    mutating func responderNotification(_ type: EventType, via: String, _ extra: [String: JSONValue]) throws
        -> OutboxItem
    {
        s.notificationCount += 1
        var data = extra
        var caller: [String: JSONValue] = [:]
        if let alias = s.caller.alias { caller["alias"] = .string(alias) }
        data["session"] = [
            "id": .string(s.id.rawValue), "state": .string(s.state.rawValue), "caller": .object(caller),
        ]
        data["sequence"] = .int(Int64(s.notificationCount))
        let body = try VigilJSON.encode(WebhookEnvelope(type: type, timestamp: now, data: .object(data)))
        let item = OutboxItem(
            id: ids.notificationID(), sessionID: s.id, type: type, targets: [via], webhookIDs: [ids.webhookID()],
            body: body, createdAt: now, isDispatch: false)
        outbox.append(item)
        return item
    }

    func responderJSON(_ r: Responder) -> JSONValue {
        var o: [String: JSONValue] = ["name": .string(r.name), "phone": .string(r.phone)]
        if let rel = r.relation { o["relation"] = .string(rel) }
        return .object(o)
    }
}

/// Mass-lapse holds (CONTRACT, "Mass lapse").
extension Builder {
    mutating func massLapseHold(until: Timestamp, count: Int) {
        guard s.state.isOpen, s.state != .dispatched, !(s.dispatch?.isLive ?? false) else { return }
        guard (s.massLapseHoldUntil ?? now) < until else { return }
        s.massLapseHoldUntil = until
        emit(.massLapseHeld, ["hold_until": .time(until), "count": .int(Int64(count))])
    }

    mutating func massLapseRelease(by: String) {
        guard let h = s.massLapseHoldUntil, h > now else { return }
        s.massLapseHoldUntil = nil
        emit(.massLapseReleased, ["by": .string(by), "hold_until": .time(h)])
    }
}

/// Check-ins by text (CONTRACT, "Check-ins by text"); an `OK` is a plain check-in with source `sms`.
extension Builder {
    mutating func smsHelp() throws {
        guard s.state.isOpen else { throw VigilError.sessionEnded }
        if s.state == .dispatched || (s.dispatch?.isLive ?? false) {
            // Never a second dispatch: the operator is alarmed and decides.
            emit(.smsHelp, ["dispatched": false, "reason": "a dispatch was already sent"])
            return
        }
        guard s.policy.firstDispatchStep != nil else {
            s.deliveryFailures += 1
            emit(.smsHelp, ["dispatched": false, "reason": "the session's policy has no dispatch step"])
            return
        }
        emit(.smsHelp, ["dispatched": true])
        try dispatchNow(by: "sms")
    }

    mutating func smsText(_ text: String) throws {
        guard s.state.isOpen else { throw VigilError.sessionEnded }
        emit(.smsReceived, ["text": .string(text)])
    }
}
