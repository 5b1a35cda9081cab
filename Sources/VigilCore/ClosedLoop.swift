/// A dispatch target's closed-loop timeouts (`accept_timeout_s`, `arrival_timeout_s`), each off unless set.
public struct LoopTimeouts: Hashable, Sendable, Codable {
    /// How long after a 2xx the target has to report `accepted`.
    public var accept: Millis?
    /// How long after `accepted` the target has to report `on_scene`.
    public var arrival: Millis?

    /// Creates timeouts.
    public init(accept: Millis? = nil, arrival: Millis? = nil) {
        self.accept = accept
        self.arrival = arrival
    }
}

/// One target that received a dispatch (answered 2xx), and what it did with it.
public struct TargetDelivery: Hashable, Sendable, Codable {
    /// The target.
    public var target: TargetName
    /// The notification it answered.
    public var notification: NotificationID
    /// Its webhook id for that notification.
    public var webhookID: WebhookID
    /// When it answered 2xx.
    public var deliveredAt: Timestamp
    /// When it was sent `dispatch.cancelled`.
    public var cancelledAt: Timestamp?
    /// The partner must report `accepted` by then (nil: no accept timeout).
    public var acceptBy: Timestamp?
    /// When it reported `accepted`.
    public var acceptedAt: Timestamp?
    /// When the dispatch moved on from it (no acceptance in time, or rejected).
    public var unacceptedAt: Timestamp?
    /// A crew must report `on_scene` by then (nil: no arrival timeout).
    public var arriveBy: Timestamp?
    /// When it reported `on_scene`.
    public var onSceneAt: Timestamp?
    /// When `dispatch.arrival_overdue` was raised.
    public var arrivalOverdueAt: Timestamp?
    /// When it reported `rejected` or `closed` after accepting, with no crew on scene (`dispatch.dropped`).
    public var droppedAt: Timestamp?

    /// Creates a delivery.
    public init(target: TargetName, notification: NotificationID, webhookID: WebhookID, deliveredAt: Timestamp) {
        self.target = target
        self.notification = notification
        self.webhookID = webhookID
        self.deliveredAt = deliveredAt
    }

    /// The instant at which time alone changes this delivery, if any.
    public var nextDeadline: Timestamp? {
        guard cancelledAt == nil, unacceptedAt == nil else { return nil }
        if acceptedAt == nil { return acceptBy }
        if onSceneAt == nil, arrivalOverdueAt == nil { return arriveBy }
        return nil
    }
}

/// A dispatch partner's report, as `dispatch.status` lists them.
public struct StatusReport: Hashable, Sendable, Codable {
    /// The target that reported.
    public var target: TargetName
    /// What it reported.
    public var status: DispatchStatus
    /// Its own reference.
    public var reference: String?
    /// When.
    public var at: Timestamp

    /// Creates a report.
    public init(target: TargetName, status: DispatchStatus, reference: String?, at: Timestamp) {
        self.target = target
        self.status = status
        self.reference = reference
        self.at = at
    }
}

/// Whether a session's location resolved to a dispatch target (`routes:`), and whether an operator pinned it.
public struct RoutingState: Hashable, Sendable, Codable {
    /// The route, or nil when nothing matched.
    public var route: SessionRoute?
    /// Whether an operator chose it (a pin survives location changes).
    public var pinned: Bool

    /// Creates a routing state.
    public init(route: SessionRoute?, pinned: Bool = false) {
        self.route = route
        self.pinned = pinned
    }

    /// The warnings the console shows until an operator acts: `routing.unresolved`, `routing.default`.
    public var warnings: [String] {
        guard let route else { return ["routing.unresolved"] }
        return route.matched == "default" ? ["routing.default"] : []
    }
}

/// What an operator does to a session's route.
public enum RouteEdit: Hashable, Sendable {
    /// Pin this target (also how the default is confirmed).
    case pin(TargetName)
    /// Remove the pin: the location decides again.
    case unpin
}

/// How a follow-up ended.
public enum FollowUpOutcome: String, Hashable, Sendable, Codable, CaseIterable {
    case revived
    case transported
    case refusedCare = "refused_care"
    case notFound = "not_found"
    case noContact = "no_contact"
    case other
}

/// A call back to someone who needed an emergency response.
public struct FollowUp: Hashable, Sendable, Codable {
    /// `fu_` and the session id's random part: the session is found from it.
    public var id: String
    /// When it was created.
    public var createdAt: Timestamp
    /// When the call back is due.
    public var dueAt: Timestamp
    /// How it ended, once closed.
    public var outcome: FollowUpOutcome?
    /// Whether naloxone was used (nil: not known).
    public var naloxoneUsed: Bool?
    /// The operator's note (personal data, sealed with the snapshot).
    public var note: String?
    /// When it was closed.
    public var closedAt: Timestamp?
    /// Who closed it.
    public var closedBy: ActorName?
    /// When its reminder was raised (`follow_up.due`), once it fell due while open.
    public var remindedAt: Timestamp?
    /// The ids of the resources offered at the call (nil: none).
    public var referrals: [String]?

    /// Creates an open follow-up.
    public init(id: String, createdAt: Timestamp, dueAt: Timestamp) {
        self.id = id
        self.createdAt = createdAt
        self.dueAt = dueAt
    }

    /// `open` or `closed`.
    public var state: String { closedAt == nil ? "open" : "closed" }

    /// The follow-up id of a session.
    public static func id(for session: SessionID) -> String { "fu_" + session.rawValue.dropFirst(4) }

    /// The session of a follow-up id; nil unless it has the exact shape Vigil issues.
    public static func session(of id: String) -> SessionID? {
        guard id.hasPrefix("fu_") else { return nil }
        return SessionID(validating: "ses_" + id.dropFirst(3))
    }

    /// The default delay, 24 h.
    public static let defaultDelay = Millis.seconds(86_400)
}

extension StatusReport {
    /// `{"target", "status", "reference", "at"}`, with `reference` null rather than absent.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(target, forKey: .target)
        try c.encode(status, forKey: .status)
        try c.encode(reference, forKey: .reference)
        try c.encode(at, forKey: .at)
    }
}
