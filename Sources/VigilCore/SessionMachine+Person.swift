/// Texts to the person (docs/contract.md, "Texts to the person and to responders"): a reminder before each due time
/// (`remind:` in the policy), a prompt from a ladder step `contact: person`, and what the SMS gateway later reports
/// of any text it took.
extension Session {
    /// When the reminder of the current due time falls due: only while `active`, with a callback number, a policy
    /// that sends reminders, a session that did not turn them off, and a reminder time after the check-in that set
    /// the due time (an interval shorter than `before_s` gets none). Nil once it was decided.
    public var reminderAt: Timestamp? {
        guard state == .active, reminders != false, let r = policy.remind, remindedFor != due,
            let number = caller.callbackNumber, !number.isEmpty
        else { return nil }
        let t = due - r.before
        return t > lastCheckInAt ? t : nil
    }
}

/// What an SMS gateway's status callback reported of one text.
public struct TextStatusReport: Hashable, Sendable {
    /// The statuses that matter: the text arrived, or it never will.
    public enum Status: String, Hashable, Sendable, CaseIterable {
        case delivered, failed, undelivered
    }

    /// What became of the text.
    public var status: Status
    /// The notification the text carried.
    public var notification: NotificationID
    /// The notification's type (`responder.requested`, `person.reminder`, …), when known.
    public var type: EventType?
    /// The gateway target that sent it, when known.
    public var target: TargetName?
    /// The gateway's error code, if it gave one.
    public var errorCode: String?

    /// Creates a report.
    public init(
        status: Status, notification: NotificationID, type: EventType? = nil, target: TargetName? = nil,
        errorCode: String? = nil
    ) {
        self.status = status
        self.notification = notification
        self.type = type
        self.target = target
        self.errorCode = errorCode
    }
}

/// The `data` of `person.reminder` and `person.prompted`: who to text, what to say, and only the session's id,
/// state and the caller's alias.
public struct PersonWebhookData: Encodable, Sendable {
    public var session: ResponderWebhookData.SessionPart
    /// The callback number (E.164).
    public var to: String
    /// The text, in the session's language: the check-in link, never the address, the substance or the word overdose.
    public var message: String
    /// The person's check-in link.
    public var checkInURL: String
    /// The due time the text is about (for a prompt, the one that was missed).
    public var dueAt: Timestamp
    /// The text's language.
    public var language: String
    public var sequence: Int

    /// The `data` object, keys in snake case.
    public func json() throws -> JSONValue { try JSONValueEncoder.encode(self, snakeCaseKeys: true) }
}

extension EventData {
    /// `person.reminder`: a reminder went to the outbox for the due time `due_at`.
    public struct PersonReminded: EventPayload, Equatable {
        public var eventType: EventType { .personReminder }
        public var dueAt: Timestamp
        public var target: TargetName
        public var webhookID: WebhookID
        public var notification: NotificationID
        public var scheduledAt: Timestamp
        public var lateMs: Millis
    }

    /// `sms.status`: what the SMS gateway reported of a text it had taken (`delivered`, `failed`, `undelivered`).
    public struct SMSStatus: EventPayload, Equatable {
        public var eventType: EventType { .smsStatus }
        public var status: String
        public var notification: NotificationID
        public var type: EventType?
        public var target: TargetName?
        public var errorCode: String?
    }
}

extension Builder {
    /// The language of the texts to this session's person and responders.
    var personLanguage: String { s.spokenLanguage.rawValue }

    /// The person's absolute check-in link (the policy's `public_url`, else a path).
    var checkInLink: String {
        let base = s.policy.linkBase.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? ""
        return base + "/c/" + s.checkInToken
    }

    /// Sends the current due time's reminder when its time has come, once: a reminder whose due time has already
    /// passed is not sent (the session is overdue and its ladder takes over).
    mutating func remindIfDue() throws {
        guard let t = s.reminderAt, now >= t, let r = s.policy.remind, let number = s.caller.callbackNumber else {
            return
        }
        s.remindedFor = s.due
        guard now < s.due else { return }
        let minutes = max(1, ((s.due - now).value + 30_000) / 60_000)
        let item = try personNotification(
            .personReminder, via: r.via, to: number, text: PersonTexts.reminder, ["minutes": "\(minutes)"],
            dueAt: s.due)
        emit(
            EventData.PersonReminded(
                dueAt: s.due, target: r.via, webhookID: item.webhookIDs[0], notification: item.id, scheduledAt: t,
                lateMs: now - t))
    }

    /// Fires a `contact: person` step: `person.prompted` to the callback number, or the step is skipped without one.
    mutating func promptPerson(step k: Int, via: TargetName, scheduledAt t: Timestamp) throws {
        guard let number = s.caller.callbackNumber, !number.isEmpty else {
            emit(
                EventData.EscalationStep(
                    step: k + 1, action: .contactPerson, targets: [via], skipped: "the session has no callback number",
                    scheduledAt: t, lateMs: now - t))
            return
        }
        let item = try personNotification(
            .personPrompted, via: via, to: number, text: PersonTexts.prompt, [:],
            dueAt: s.escalation?.missedDueAt ?? s.due)
        emit(
            EventData.EscalationStep(
                step: k + 1, action: .contactPerson, targets: [via], scheduledAt: t, lateMs: now - t,
                webhookIDs: item.webhookIDs))
    }

    /// A text to the person through the gateway `via`.
    mutating func personNotification(
        _ type: EventType, via: TargetName, to number: String, text key: String, _ values: [String: String],
        dueAt: Timestamp
    ) throws -> OutboxItem {
        s.notificationCount += 1
        let link = checkInLink
        var v = values
        v["link"] = link
        let data = PersonWebhookData(
            session: responderSession(), to: number, message: PersonTexts.text(key, language: personLanguage, v),
            checkInURL: link, dueAt: dueAt, language: personLanguage, sequence: s.notificationCount)
        let body = try VigilJSON.encode(WebhookEnvelope(type: type, timestamp: now, data: try data.json()))
        let item = OutboxItem(
            id: ids.notificationID(), sessionID: s.id, type: type, targets: [via], webhookIDs: [ids.webhookID()],
            body: body, createdAt: now, isDispatch: false)
        outbox.append(item)
        return item
    }

    /// The gateway's later word on a text it took: `delivered` is recorded; `failed` or `undelivered` is a failed
    /// delivery (the console's alarm, `on_delivery_failure`), and a responder's request moves on to the next one.
    mutating func textStatus(_ r: TextStatusReport) throws {
        guard s.state.isOpen else { throw VigilError.sessionEnded }
        emit(
            EventData.SMSStatus(
                status: r.status.rawValue, notification: r.notification, type: r.type, target: r.target,
                errorCode: r.errorCode))
        guard r.status != .delivered else { return }
        let why = "the gateway reported the text \(r.status.rawValue)" + (r.errorCode.map { " (error \($0))" } ?? "")
        let type = r.type ?? .smsStatus
        let targets = r.target.map { [$0] } ?? []
        s.deliveryFailures += 1
        emit(
            EventData.DeliveryFailed(
                type: type, targets: targets, reason: why, notification: r.notification, dispatch: false))
        try responderUnreachable(r.notification)
        guard type != .deliveryFailed else { return }
        for target in s.policy.onDeliveryFailure {
            _ = try notification(
                .deliveryFailed, targets: [target], isDispatch: false,
                WebhookDetails(
                    reason: "a text was not delivered (\(type.rawValue)): \(why)", failedType: type,
                    failedTargets: targets), references: [])
        }
    }
}
