/// The `contact: responders` step and the responders' answers (docs/contract.md, "Responders").
///
/// Responders are contacted one at a time, in order; each has the step's `answer_s` to answer before the next is
/// contacted. The time to answer is a deadline of the session like a step's, so it survives a restart. Later steps
/// keep their own times: when one fires, or the person checks in, those still waiting are told they are no longer
/// needed.
extension Builder {
    /// The default pause of an *I'm going*.
    static let defaultGoingPause = Millis.seconds(300)

    /// Fires a `contact: responders` step.
    mutating func startResponders(step k: Int, via: TargetName, answer: Millis, scheduledAt t: Timestamp) throws {
        let count = s.responders?.count ?? 0
        let late = now - t
        guard count > 0 else {
            emit(EventData.ResponderNone(step: k + 1, scheduledAt: t, lateMs: late))
            return
        }
        s.responderRun = ResponderRun(step: k, via: via, answerWindow: answer)
        emit(
            EventData.EscalationStep(
                step: k + 1, action: .contactResponders, targets: [via], responders: count, scheduledAt: t,
                lateMs: late))
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
        let language = s.spokenLanguage
        let template = s.policy.responderMessage ?? ResponderMessage.template(for: language)
        let message = ResponderMessage.render(
            template, responder: r, alias: s.caller.alias, location: s.location, link: url, language: language)
        var data = ResponderWebhookData(
            responder: r, attempt: i + 1, message: message, location: s.location, responderURL: url,
            answerS: run.answerWindow.wholeSeconds, session: responderSession(), sequence: s.notificationCount + 1,
            messageTemplate: template)
        // English requests keep the shape they always had; another language says which, for the text made again.
        if language != .en { data.language = language }
        let item = try responderNotification(.responderRequested, via: run.via, data)
        let answerBy = now + run.answerWindow
        run.current = i
        run.answerBy = answerBy
        run.notification = item.id
        if !run.waiting.contains(i) { run.waiting.append(i) }
        s.responderRun = run
        emit(
            EventData.ResponderRequested(
                attempt: i + 1, target: run.via, webhookID: item.webhookIDs[0], answerBy: answerBy))
    }

    /// When the current responder's time to answer has passed (before the next step's time, which goes first
    /// otherwise), moves on to the next responder; true when it did.
    mutating func responderTimeoutIfDue(before stepTime: Timestamp?) throws -> Bool {
        guard let run = s.responderRun, let by = run.answerBy, let i = run.current, now >= by else { return false }
        if let stepTime, stepTime < by { return false }
        emit(
            EventData.ResponderNoAnswer(
                attempt: i + 1, scheduledAt: by, lateMs: now - by, left: max(0, (s.responders?.count ?? 0) - run.next)))
        try contactNextResponder()
        return true
    }

    /// The gateway refused a responder's request: the next responder is contacted at once.
    mutating func responderUnreachable(_ notification: NotificationID) throws {
        guard var run = s.responderRun, run.notification == notification, let i = run.current else { return }
        // They never got the request: nobody owes them a cancel.
        run.waiting.removeAll { $0 == i }
        s.responderRun = run
        emit(
            EventData.ResponderNoAnswer(
                attempt: i + 1, reason: "the request could not be delivered",
                left: max(0, (s.responders?.count ?? 0) - run.next)))
        try contactNextResponder()
    }

    /// Ends the run: every responder still waiting gets `responder.cancelled`.
    mutating func stopResponders(reason: String) throws {
        guard var run = s.responderRun, run.stoppedAt == nil else { return }
        let responders = s.responders ?? []
        for i in run.waiting where i < responders.count {
            let item = try responderNotification(
                .responderCancelled, via: run.via,
                ResponderWebhookData(
                    responder: responders[i], attempt: i + 1,
                    message: TextCatalog.text("sms.responder_cancelled", s.spokenLanguage), reason: reason,
                    session: responderSession(), sequence: s.notificationCount + 1))
            emit(
                EventData.ResponderCancelled(
                    attempt: i + 1, target: run.via, reason: reason, webhookID: item.webhookIDs[0]))
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
        let attempt = i + 1
        switch answer {
        case .going:
            var going = EventData.ResponderGoing(attempt: attempt)
            if s.state == .overdue || s.state == .escalating, var e = s.escalation {
                // Like an acknowledge: the ladder waits while the responder is on the way, then resumes.
                let until = now + (s.policy.goingPause ?? Self.defaultGoingPause)
                if (e.pausedUntil ?? now) < until { e.pausedUntil = until }
                e.realarmAt = nil
                s.escalation = e
                going.pausedUntil = e.pausedUntil
                if var run = s.responderRun, run.stoppedAt == nil {
                    run.going = i
                    s.responderRun = run
                }
            }
            emit(going)
            // A friend went to the person: someone calls back later, as after a dispatch.
            createFollowUp(because: "responder_going")
        case .ok:
            emit(EventData.ResponderOK(attempt: attempt, previousState: s.state))
            createFollowUp(because: "responder_ok")
            if s.state != .active { try checkIn(source: .responder, note: nil) }
        case .ems:
            if s.state == .dispatched || (s.dispatch?.isLive ?? false) {
                emit(EventData.ResponderEMS(attempt: attempt, dispatched: false, reason: "a dispatch was already sent"))
            } else if s.policy.firstDispatchStep != nil {
                emit(EventData.ResponderEMS(attempt: attempt, dispatched: true))
                try dispatchNow(by: "responder")
            } else {
                // Never silence: with nothing to dispatch to, the operator is alarmed and must call.
                s.deliveryFailures += 1
                emit(
                    EventData.ResponderEMS(
                        attempt: attempt, dispatched: false, reason: "the session's policy has no dispatch step"))
            }
        }
    }

    /// A notification to the gateway `via` about one responder; the session part names only its id, state and
    /// the caller's alias.
    mutating func responderNotification(_ type: EventType, via: TargetName, _ data: ResponderWebhookData) throws
        -> OutboxItem
    {
        s.notificationCount += 1
        let body = try VigilJSON.encode(WebhookEnvelope(type: type, timestamp: now, data: try data.json()))
        let item = OutboxItem(
            id: ids.notificationID(), sessionID: s.id, type: type, targets: [via], webhookIDs: [ids.webhookID()],
            body: body, createdAt: now, isDispatch: false)
        outbox.append(item)
        return item
    }

    /// The part of the session a responder gateway receives.
    func responderSession() -> ResponderWebhookData.SessionPart {
        .init(id: s.id, state: s.state, caller: Caller(alias: s.caller.alias))
    }
}

/// Mass-lapse holds (docs/contract.md, "Mass lapse").
extension Builder {
    mutating func massLapseHold(until: Timestamp, count: Int) {
        guard s.state.isOpen, s.state != .dispatched, !(s.dispatch?.isLive ?? false) else { return }
        guard (s.massLapseHoldUntil ?? now) < until else { return }
        s.massLapseHoldUntil = until
        emit(EventData.MassLapseHeld(holdUntil: until, count: count))
    }

    mutating func massLapseRelease(by: ActorName) {
        guard let h = s.massLapseHoldUntil, h > now else { return }
        s.massLapseHoldUntil = nil
        emit(EventData.MassLapseReleased(by: by, holdUntil: h))
    }
}

/// Check-ins by text (docs/contract.md, "Check-ins by text"); an `OK` is a plain check-in with source `sms`.
extension Builder {
    mutating func smsHelp() throws {
        guard s.state.isOpen else { throw VigilError.sessionEnded }
        if s.state == .dispatched || (s.dispatch?.isLive ?? false) {
            // Never a second dispatch: the operator is alarmed and decides.
            emit(EventData.SMSHelp(dispatched: false, reason: "a dispatch was already sent"))
            return
        }
        guard s.policy.firstDispatchStep != nil else {
            s.deliveryFailures += 1
            emit(EventData.SMSHelp(dispatched: false, reason: "the session's policy has no dispatch step"))
            return
        }
        emit(EventData.SMSHelp(dispatched: true))
        try dispatchNow(by: "sms")
    }

    mutating func smsText(_ text: String) throws {
        guard s.state.isOpen else { throw VigilError.sessionEnded }
        emit(EventData.SMSReceived(text: text))
    }
}
