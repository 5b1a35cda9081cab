/// The payloads of dispatch, delivery, the closed loop and follow-up.
extension EventData {
    // MARK: Dispatch

    /// `dispatch.requested` (with no notification when the step had no target: that fails at once).
    public struct DispatchRequested: EventPayload, Equatable {
        public var eventType: EventType { .dispatchRequested }
        public var step: Int
        public var targets: [TargetName]
        public var requestedBy: ActorName
        public var notification: NotificationID?
        public var webhookIDs: [WebhookID]?
        public var lateMs: Millis
    }

    /// `dispatch.accepted`: a target answered 2xx to a dispatch (`after_cancel` when it had been withdrawn).
    public struct DispatchAccepted: EventPayload, Equatable {
        public var eventType: EventType { .dispatchAccepted }
        public var type: EventType
        public var target: TargetName
        public var status: Int
        public var attempts: Int
        public var webhookID: WebhookID
        public var notification: NotificationID
        public var afterCancel: Bool?
        public var acceptBy: Timestamp?
    }

    /// `dispatch.cancelled` sent to a target (`failover` when the dispatch moved on from it).
    public struct DispatchCancelled: EventPayload, Equatable {
        public var eventType: EventType { .dispatchCancelled }
        public var target: TargetName
        public var reason: String
        public var failover: Bool?
        public var webhookID: WebhookID
    }

    /// `dispatch.updated` sent to the target holding the dispatch.
    public struct DispatchUpdated: EventPayload, Equatable {
        public var eventType: EventType { .dispatchUpdated }
        public var target: TargetName
        public var changed: [String]
        public var webhookID: WebhookID
    }

    /// `dispatch.status`: a partner's report.
    public struct DispatchStatusReported: EventPayload, Equatable {
        public var eventType: EventType { .dispatchStatus }
        public static let nullWhenAbsent = ["reference"]
        public var status: DispatchStatus
        public var reference: String?
        public var by: ActorName
        public var target: TargetName
    }

    /// `dispatch.accepted_late`: a target reported after the dispatch was cancelled to it.
    public struct DispatchAcceptedLate: EventPayload, Equatable {
        public var eventType: EventType { .dispatchAcceptedLate }
        public var target: TargetName
        public var status: DispatchStatus
        public var alarm: Bool
        public var reason: String
    }

    /// `dispatch.unaccepted`: no acceptance in time (or a rejection); the dispatch moved to `next_target`.
    public struct DispatchUnaccepted: EventPayload, Equatable {
        public var eventType: EventType { .dispatchUnaccepted }
        public static let nullWhenAbsent = ["next_target"]
        public var target: TargetName
        public var reason: String
        public var alarm: Bool
        public var nextTarget: TargetName?
        public var scheduledAt: Timestamp?
        public var lateMs: Millis?
        public var notification: NotificationID?
        public var webhookIDs: [WebhookID]?
    }

    /// `dispatch.arrival_overdue`.
    public struct DispatchArrivalOverdue: EventPayload, Equatable {
        public var eventType: EventType { .dispatchArrivalOverdue }
        public static let nullWhenAbsent = ["accepted_at"]
        public var target: TargetName
        public var acceptedAt: Timestamp?
        public var arrivalTimeoutS: Int64
        public var scheduledAt: Timestamp
        public var lateMs: Millis
    }

    // MARK: Delivery

    /// `delivery.succeeded`: a target answered 2xx to a notification that is not a dispatch.
    public struct DeliverySucceeded: EventPayload, Equatable {
        public var eventType: EventType { .deliverySucceeded }
        public var type: EventType
        public var target: TargetName
        public var status: Int
        public var attempts: Int
        public var webhookID: WebhookID
        public var notification: NotificationID
    }

    /// `delivery.target_failed`: one target gave up (`next_target` is tried next, if any).
    public struct DeliveryTargetFailed: EventPayload, Equatable {
        public var eventType: EventType { .deliveryTargetFailed }
        public var type: EventType
        public var target: TargetName
        public var reason: String
        public var attempts: Int
        public var webhookID: WebhookID
        public var notification: NotificationID
        public var nextTarget: TargetName?
    }

    /// `delivery.failed`: no target took the notification; an operator alarm.
    public struct DeliveryFailed: EventPayload, Equatable {
        public var eventType: EventType { .deliveryFailed }
        public var type: EventType
        public var targets: [TargetName]
        public var reason: String
        public var notification: NotificationID
        public var dispatch: Bool
    }

    // MARK: Follow-up

    /// `follow_up.created`.
    public struct FollowUpCreated: EventPayload, Equatable {
        public var eventType: EventType { .followUpCreated }
        public var followUp: String
        public var dueAt: Timestamp
        public var because: String
    }

    /// `follow_up.closed` (the note stays in the sealed snapshot).
    public struct FollowUpClosed: EventPayload, Equatable {
        public var eventType: EventType { .followUpClosed }
        public static let nullWhenAbsent = ["naloxone_used"]
        public var followUp: String
        public var outcome: FollowUpOutcome
        public var naloxoneUsed: Bool?
        public var by: ActorName
        /// The resources offered at the call (absent when none were).
        public var referrals: [Referral]?
    }
}
