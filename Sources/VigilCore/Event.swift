/// The types of events in a session's timeline.
public enum EventType: String, Hashable, Sendable, Codable, CaseIterable {
    case sessionStarted = "session.started"
    case sessionUpdated = "session.updated"
    case sessionEnded = "session.ended"
    case checkInReceived = "check_in.received"
    case checkInOverdue = "check_in.overdue"
    case escalationStarted = "escalation.started"
    case escalationStep = "escalation.step"
    case escalationAcknowledged = "escalation.acknowledged"
    case escalationResumed = "escalation.resumed"
    case escalationResolved = "escalation.resolved"
    case dispatchRequested = "dispatch.requested"
    case dispatchAccepted = "dispatch.accepted"
    case dispatchCancelled = "dispatch.cancelled"
    case dispatchUpdated = "dispatch.updated"
    case dispatchStatus = "dispatch.status"
    case deliverySucceeded = "delivery.succeeded"
    case deliveryTargetFailed = "delivery.target_failed"
    case deliveryFailed = "delivery.failed"
    case systemAlarm = "system.alarm"
    case testPing = "test.ping"
    case responderRequested = "responder.requested"
    case responderCancelled = "responder.cancelled"
    case responderGoing = "responder.going"
    case responderOk = "responder.ok"
    case responderEms = "responder.ems"
    case responderNone = "responder.none"
    case responderNoAnswer = "responder.no_answer"
    case systemMassLapse = "system.mass_lapse"
    case massLapseHeld = "mass_lapse.held"
    case massLapseReleased = "mass_lapse.released"
    case smsReceived = "sms.received"
    case smsHelp = "sms.help"
    /// A help word texted from a number no open session has (a system event: no session).
    case smsUnknownHelp = "sms.unknown_help"
    /// An operator revealed a session's location before it was in alarm (who: `by`, `role`).
    case locationViewed = "location.viewed"
    /// A staff member asked for the person's check-in link (who: `by`, `role`): the link checks the person in.
    case linkViewed = "link.viewed"
    /// No operator console was connected while sessions were open (`raised`), or one is again (not `raised`).
    case systemUnattended = "system.unattended"
    // Routing, the closed loop and follow-up.
    case routingResolved = "routing.resolved"
    case routingDefault = "routing.default"
    case routingUnresolved = "routing.unresolved"
    case routingPinned = "routing.pinned"
    case routingUnpinned = "routing.unpinned"
    case routingChangedAfterDispatch = "routing.changed_after_dispatch"
    case dispatchUnaccepted = "dispatch.unaccepted"
    case dispatchAcceptedLate = "dispatch.accepted_late"
    case dispatchArrivalOverdue = "dispatch.arrival_overdue"
    case followUpCreated = "follow_up.created"
    case followUpClosed = "follow_up.closed"
    // Texts to the person, and what the gateway reported of a text.
    case personReminder = "person.reminder"
    case personPrompted = "person.prompted"
    case smsStatus = "sms.status"
    /// The configuration file was read again and is in force (a system event: no session).
    case configReloaded = "config.reloaded"
    /// A reload was refused: the running configuration stays (a system event: no session).
    case configReloadFailed = "config.reload_failed"
    /// Vigil came back after an outage (`down_s`, `lapsed_while_down`): a system event.
    case systemRecovered = "system.recovered"
    /// A canary's `test.ping` reached a target: `target`, `latency_ms` from the canary's deadline (a system event).
    case canaryPassed = "canary.passed"
    /// A canary's `test.ping` got no 2xx from a target within `canary.timeout_s` (a system event).
    case canaryFailed = "canary.failed"
    /// A partner reported `rejected` or `closed` after `accepted` with no crew on scene (an alarm).
    case dispatchDropped = "dispatch.dropped"
    /// An open follow-up fell due: the console reminds the operators to call back.
    case followUpDue = "follow_up.due"
}

/// An event decided but not yet stored: it gets its `seq` when committed.
public struct NewEvent: Hashable, Sendable {
    /// What happened.
    public var type: EventType
    /// When.
    public var at: Timestamp
    /// Details; never the address, phone number or notes.
    public var data: JSONValue

    /// Creates an event.
    public init(_ type: EventType, at: Timestamp, _ data: JSONValue = [:]) {
        self.type = type
        self.at = at
        self.data = data
    }
}

/// An event in the durable log, numbered across the whole service.
public struct StoredEvent: Hashable, Sendable, Codable {
    /// Position in the service-wide log; increases by at least one per event.
    public var seq: Int64
    /// The session it belongs to (nil for system events).
    public var sessionID: SessionID?
    /// What happened.
    public var type: EventType
    /// When.
    public var at: Timestamp
    /// Details.
    public var data: JSONValue

    /// Creates a stored event.
    public init(seq: Int64, sessionID: SessionID?, type: EventType, at: Timestamp, data: JSONValue) {
        self.seq = seq
        self.sessionID = sessionID
        self.type = type
        self.at = at
        self.data = data
    }

    enum CodingKeys: String, CodingKey {
        case seq, type, at, data
        case sessionID = "session_id"
    }

    /// `session_id` is always written, `null` for a system event, so that readers can tell one without guessing.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(sessionID, forKey: .sessionID)
        try c.encode(type, forKey: .type)
        try c.encode(at, forKey: .at)
        try c.encode(data, forKey: .data)
    }
}
