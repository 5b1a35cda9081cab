import Foundation

/// A session as the API and webhooks show it (docs/contract.md, "A session as returned").
public struct SessionView: Encodable, Sendable {
    /// The escalation part.
    public struct EscalationView: Encodable, Sendable {
        let step: Int
        let startedAt: Timestamp?
        let missedCheckInDueAt: Timestamp
        let acknowledgedBy: ActorName?
        let acknowledgedAt: Timestamp?
        let pausedUntil: Timestamp?
        let nextStepAt: Timestamp?
    }

    /// The dispatch part.
    public struct DispatchView: Encodable, Sendable {
        let requestedAt: Timestamp
        let requestedBy: ActorName
        let deliveredAt: Timestamp?
        let target: TargetName?
        let targets: [TargetView]
        let status: [StatusReport]
        let reference: String?
        let failedAt: Timestamp?
        let cancelledAt: Timestamp?
    }

    let id: SessionID
    let state: SessionState
    let caller: Caller
    let location: Location
    let notes: String?
    let substance: String?
    let device: String?
    let checkInIntervalS: Int64
    let graceS: Int64
    let policy: String
    let startedAt: Timestamp
    let lastCheckInAt: Timestamp
    let nextCheckInDueAt: Timestamp?
    let escalation: EscalationView?
    let dispatch: DispatchView?
    let deliveryFailures: Int
    let endedAt: Timestamp?
    let outcome: Outcome?
    let checkInUrl: String?
    let version: Int
    var responders: [ResponderView]?
    var massLapseHoldUntil: Timestamp?
    /// The session's language (API reads only: webhooks keep their shape).
    var language: Language?
    /// The dispatch route; nil when routing is off (and then left out).
    let routing: RoutingState?
    /// Whether the person gets reminders by text (API reads only: webhooks never carry it).
    var reminders: Bool?
    /// How much personal data the view carries (webhooks: all of it, cut down per target at send time).
    var disclosure: Disclosure = .full

    /// The view of `s`; `checkInURL` nil leaves the link out (webhooks, ended sessions).
    public init(_ s: Session, checkInURL: String?) {
        id = s.id
        state = s.state
        caller = s.caller
        location = s.location
        notes = s.notes
        substance = s.substance
        device = s.device
        checkInIntervalS = s.interval.wholeSeconds
        graceS = s.grace.wholeSeconds
        policy = s.policy.name
        startedAt = s.startedAt
        lastCheckInAt = s.lastCheckInAt
        nextCheckInDueAt = s.state == .ended ? nil : s.due
        escalation = s.escalation.map { e in
            EscalationView(
                step: (e.lastStep ?? -1) + 1, startedAt: e.startedAt, missedCheckInDueAt: e.missedDueAt,
                acknowledgedBy: e.acknowledgedBy, acknowledgedAt: e.acknowledgedAt, pausedUntil: e.pausedUntil,
                nextStepAt: s.state == .escalating || s.state == .overdue ? s.nextDeadline : nil)
        }
        dispatch = s.dispatch.map { d in
            DispatchView(
                requestedAt: d.requestedAt, requestedBy: d.requestedBy, deliveredAt: d.deliveredAt, target: d.target,
                targets: DispatchView.targets(d), status: DispatchView.reports(d), reference: d.reference,
                failedAt: d.failedAt, cancelledAt: d.cancelledAt)
        }
        deliveryFailures = s.deliveryFailures
        endedAt = s.endedAt
        outcome = s.outcome
        checkInUrl = s.state == .ended ? nil : checkInURL
        version = s.version
        routing = s.routing
    }

    /// The view the API shows: with the responders and how each stands (webhooks never carry them), and as much
    /// personal data as `disclosure` allows; `checkInURL` only in the answers that may carry the link.
    public init(api s: Session, disclosure: Disclosure, checkInURL: String? = nil) {
        self.init(s, checkInURL: checkInURL)
        self.disclosure = disclosure
        reminders = s.reminders ?? true
        if disclosure == .full { responders = s.responders == nil ? nil : ResponderView.all(s) }
        if let h = s.massLapseHoldUntil, s.state.isOpen, s.dispatch == nil { massLapseHoldUntil = h }
        language = s.spokenLanguage
    }

    enum CodingKeys: String, CodingKey {
        case id, state, caller, location, notes, substance, device, policy, escalation, dispatch, outcome, version
        case responders
        case massLapseHoldUntil = "mass_lapse_hold_until"
        case checkInIntervalS = "check_in_interval_s"
        case graceS = "grace_s"
        case startedAt = "started_at"
        case lastCheckInAt = "last_check_in_at"
        case nextCheckInDueAt = "next_check_in_due_at"
        case deliveryFailures = "delivery_failures"
        case endedAt = "ended_at"
        case checkInUrl = "check_in_url"
        case route, warnings, language
        case reminders
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(state, forKey: .state)
        switch disclosure {
        case .full:
            try c.encode(caller, forKey: .caller)
            try c.encode(location, forKey: .location)
            try c.encode(notes, forKey: .notes)
            try c.encode(substance, forKey: .substance)
        case .redacted:
            try c.encode(Caller(alias: caller.alias), forKey: .caller)
            try c.encode(RedactedLocation(location), forKey: .location)
        }
        try c.encodeIfPresent(device, forKey: .device)
        try c.encode(checkInIntervalS, forKey: .checkInIntervalS)
        try c.encode(graceS, forKey: .graceS)
        try c.encode(policy, forKey: .policy)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(lastCheckInAt, forKey: .lastCheckInAt)
        try c.encode(nextCheckInDueAt, forKey: .nextCheckInDueAt)
        try c.encode(escalation, forKey: .escalation)
        try c.encode(dispatch, forKey: .dispatch)
        try c.encode(deliveryFailures, forKey: .deliveryFailures)
        try c.encode(endedAt, forKey: .endedAt)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(version, forKey: .version)
        try c.encodeIfPresent(reminders, forKey: .reminders)
        if let u = checkInUrl { try c.encode(u, forKey: .checkInUrl) }
        if let r = responders { try c.encode(r, forKey: .responders) }
        if let h = massLapseHoldUntil { try c.encode(h, forKey: .massLapseHoldUntil) }
        if let language { try c.encode(language, forKey: .language) }
        // With no routes: configured, routing is off: no route and no warnings on the session.
        if let routing {
            try c.encode(routing.route, forKey: .route)
            try c.encode(routing.warnings, forKey: .warnings)
        }
    }
}

extension SessionView.EscalationView {
    enum CodingKeys: String, CodingKey {
        case step
        case startedAt = "started_at"
        case missedCheckInDueAt = "missed_check_in_due_at"
        case acknowledgedBy = "acknowledged_by"
        case acknowledgedAt = "acknowledged_at"
        case pausedUntil = "paused_until"
        case nextStepAt = "next_step_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(step, forKey: .step)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(missedCheckInDueAt, forKey: .missedCheckInDueAt)
        try c.encode(acknowledgedBy, forKey: .acknowledgedBy)
        try c.encode(acknowledgedAt, forKey: .acknowledgedAt)
        try c.encode(pausedUntil, forKey: .pausedUntil)
        try c.encode(nextStepAt, forKey: .nextStepAt)
    }
}

extension SessionView.DispatchView {
    enum CodingKeys: String, CodingKey {
        case target, targets, status, reference
        case requestedAt = "requested_at"
        case requestedBy = "requested_by"
        case deliveredAt = "delivered_at"
        case failedAt = "failed_at"
        case cancelledAt = "cancelled_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(requestedAt, forKey: .requestedAt)
        try c.encode(requestedBy, forKey: .requestedBy)
        try c.encode(deliveredAt, forKey: .deliveredAt)
        try c.encode(target, forKey: .target)
        try c.encode(targets, forKey: .targets)
        try c.encode(status, forKey: .status)
        try c.encode(reference, forKey: .reference)
        try c.encode(failedAt, forKey: .failedAt)
        try c.encode(cancelledAt, forKey: .cancelledAt)
    }
}

/// JSON encoding as the contract wants it: sorted keys for stable bytes, no escaped slashes.
public enum VigilJSON {
    /// Encodes a value to JSON bytes.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try e.encode(value))
    }

    /// Decodes a value from JSON bytes.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }

    /// Encodes a JSON value directly: the same bytes as the generic path, several times faster.
    public static func encode(_ value: JSONValue) throws -> [UInt8] { try value.jsonBytes() }

    /// Encodes a webhook envelope directly: the same bytes as the generic path.
    public static func encode(_ value: WebhookEnvelope) throws -> [UInt8] {
        try JSONValue.object([
            "type": .string(value.type.rawValue), "timestamp": .string(value.timestamp.rfc3339), "data": value.data,
        ]).jsonBytes()
    }

    /// Parses a JSON value directly: the same value as the generic path, several times faster.
    public static func decode(_ type: JSONValue.Type, from bytes: [UInt8]) throws -> JSONValue {
        try JSONValue(jsonBytes: bytes)
    }
}

/// The Standard Webhooks envelope every notification carries.
public struct WebhookEnvelope: Encodable, Sendable {
    /// The webhook type.
    public let type: EventType
    /// When it was decided.
    public let timestamp: Timestamp
    /// The payload.
    public let data: JSONValue

    /// Creates an envelope.
    public init(type: EventType, timestamp: Timestamp, data: JSONValue) {
        self.type = type
        self.timestamp = timestamp
        self.data = data
    }
}

/// A responder as the API shows it: who, and where they stand (`not_contacted`, `waiting`, `no_answer`, `going`,
/// `ok`, `ems`, `cancelled`).
public struct ResponderView: Encodable, Sendable {
    let attempt: Int
    let name: String
    let phone: String
    let relation: String?
    let status: String
    let contactedAt: Timestamp?
    let answeredAt: Timestamp?
    let answerBy: Timestamp?

    static func all(_ s: Session) -> [ResponderView] {
        let run = s.responderRun
        return (s.responders ?? []).enumerated().map { i, r in
            let link = s.responderLinks?.first { $0.index == i }
            var status = "not_contacted"
            if let a = link?.answer {
                status = a.rawValue
            } else if run?.current == i {
                status = "waiting"
            } else if run?.waiting.contains(i) ?? false {
                status = "no_answer"
            } else if link != nil {
                status = "cancelled"
            }
            return ResponderView(
                attempt: i + 1, name: r.name, phone: r.phone, relation: r.relation, status: status,
                contactedAt: link?.issuedAt, answeredAt: link?.answeredAt,
                answerBy: run?.current == i ? run?.answerBy : nil)
        }
    }

    enum CodingKeys: String, CodingKey {
        case attempt, name, phone, relation, status
        case contactedAt = "contacted_at"
        case answeredAt = "answered_at"
        case answerBy = "answer_by"
    }
}

extension SessionView.DispatchView {
    /// One target that answered 2xx: `{"target", "delivered_at", "cancelled_at", …}`.
    struct TargetView: Encodable, Sendable {
        let d: TargetDelivery

        enum CodingKeys: String, CodingKey {
            case target
            case deliveredAt = "delivered_at"
            case cancelledAt = "cancelled_at"
            case acceptBy = "accept_by"
            case acceptedAt = "accepted_at"
            case unacceptedAt = "unaccepted_at"
            case arriveBy = "arrive_by"
            case onSceneAt = "on_scene_at"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(d.target, forKey: .target)
            try c.encode(d.deliveredAt, forKey: .deliveredAt)
            try c.encode(d.cancelledAt, forKey: .cancelledAt)
            try c.encode(d.acceptBy, forKey: .acceptBy)
            try c.encode(d.acceptedAt, forKey: .acceptedAt)
            try c.encode(d.unacceptedAt, forKey: .unacceptedAt)
            try c.encode(d.arriveBy, forKey: .arriveBy)
            try c.encode(d.onSceneAt, forKey: .onSceneAt)
        }
    }

    static func targets(_ d: DispatchRecord) -> [TargetView] {
        if let list = d.deliveries { return list.map(TargetView.init) }
        // A snapshot from before the closed loop: its one accepting target.
        guard let t = d.target, let at = d.deliveredAt else { return [] }
        var old = TargetDelivery(target: t, notification: d.notification, webhookID: "", deliveredAt: at)
        old.cancelledAt = d.cancelledAt
        return [TargetView(d: old)]
    }

    static func reports(_ d: DispatchRecord) -> [StatusReport] {
        if let r = d.reports { return r }
        guard let st = d.status, let t = d.target else { return [] }
        return [StatusReport(target: t, status: st, reference: d.reference, at: d.deliveredAt ?? d.requestedAt)]
    }
}
