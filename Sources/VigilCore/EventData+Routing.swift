/// The payloads of routing and of responders.
extension EventData {
    // MARK: Routing

    /// `routing.resolved` at intake.
    public struct RouteResolved: EventPayload, Equatable {
        public var eventType: EventType { .routingResolved }
        public var target: TargetName
        public var matchedBy: String
    }

    /// `routing.resolved` after a location change: the new route (null when nothing matched) and the old.
    public struct RouteChanged: EventPayload, Equatable {
        public var eventType: EventType { .routingResolved }
        public static let nullWhenAbsent = ["target", "matched_by", "previous_target"]
        public var target: TargetName?
        public var matchedBy: String?
        public var previousTarget: TargetName?
    }

    /// `routing.default`: the session went to the default route.
    public struct RoutingDefault: EventPayload, Equatable {
        public var eventType: EventType { .routingDefault }
        public static let nullWhenAbsent = ["target"]
        public var target: TargetName?
    }

    /// `routing.unresolved`: no route (`in_dispatch_step` when a dispatch step met it).
    public struct RoutingUnresolved: EventPayload, Equatable {
        public var eventType: EventType { .routingUnresolved }
        public static let nullWhenAbsent = ["target"]
        public var inDispatchStep: Bool?
        public var target: TargetName?
    }

    /// `routing.pinned`.
    public struct RoutingPinned: EventPayload, Equatable {
        public var eventType: EventType { .routingPinned }
        public var target: TargetName
        public var by: ActorName
    }

    /// `routing.unpinned`: back to what the location resolves to.
    public struct RoutingUnpinned: EventPayload, Equatable {
        public var eventType: EventType { .routingUnpinned }
        public static let nullWhenAbsent = ["target"]
        public var target: TargetName?
        public var by: ActorName
    }

    /// `routing.changed_after_dispatch`: an alarm, never a second dispatch.
    public struct RoutingChangedAfterDispatch: EventPayload, Equatable {
        public var eventType: EventType { .routingChangedAfterDispatch }
        public var target: TargetName
        public var dispatchedTo: [TargetName]
        public var reason: String
    }

    // MARK: Responders

    /// `responder.none`: a `contact: responders` step found nobody to contact.
    public struct ResponderNone: EventPayload, Equatable {
        public var eventType: EventType { .responderNone }
        public var step: Int
        public var scheduledAt: Timestamp
        public var lateMs: Millis
    }

    /// `responder.requested`.
    public struct ResponderRequested: EventPayload, Equatable {
        public var eventType: EventType { .responderRequested }
        public var attempt: Int
        public var target: TargetName
        public var webhookID: WebhookID
        public var answerBy: Timestamp
    }

    /// `responder.no_answer`: the time to answer ran out, or the request could not be delivered (`reason`).
    public struct ResponderNoAnswer: EventPayload, Equatable {
        public var eventType: EventType { .responderNoAnswer }
        public var attempt: Int
        public var scheduledAt: Timestamp?
        public var lateMs: Millis?
        public var reason: String?
        public var left: Int
    }

    /// `responder.cancelled`: a responder still waiting is no longer needed.
    public struct ResponderCancelled: EventPayload, Equatable {
        public var eventType: EventType { .responderCancelled }
        public var attempt: Int
        public var target: TargetName
        public var reason: String
        public var webhookID: WebhookID
    }

    /// `responder.going` (pausing the ladder while in alarm).
    public struct ResponderGoing: EventPayload, Equatable {
        public var eventType: EventType { .responderGoing }
        public var attempt: Int
        public var pausedUntil: Timestamp?
    }

    /// `responder.ok`.
    public struct ResponderOK: EventPayload, Equatable {
        public var eventType: EventType { .responderOk }
        public var attempt: Int
        public var previousState: SessionState
    }

    /// `responder.ems`: whether it dispatched, and why not.
    public struct ResponderEMS: EventPayload, Equatable {
        public var eventType: EventType { .responderEms }
        public var attempt: Int
        public var dispatched: Bool
        public var reason: String?
    }
}
