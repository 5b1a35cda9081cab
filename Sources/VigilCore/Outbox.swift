/// Where a notification stands.
public enum OutboxStatus: String, Hashable, Sendable, Codable {
    /// Waiting for its next attempt.
    case pending
    /// A target answered 2xx.
    case delivered
    /// Every target failed.
    case failed
    /// Withdrawn before delivery (the person checked in, or the session ended).
    case cancelled
}

/// A notification written in the same transaction as the event that caused it.
///
/// It names its targets in failover order; each target has its own webhook id, the same on every retry.
public struct OutboxItem: Hashable, Sendable {
    /// The notification's id.
    public var id: NotificationID
    /// The session it concerns.
    public var sessionID: SessionID
    /// The webhook `type`.
    public var type: EventType
    /// Targets in failover order.
    public var targets: [TargetName]
    /// One webhook id per target.
    public var webhookIDs: [WebhookID]
    /// The JSON envelope, serialized once: the bytes sent to `json` targets and signed.
    public var body: [UInt8]
    /// When it was written.
    public var createdAt: Timestamp
    /// Whether it carries a dispatch request.
    public var isDispatch: Bool
    /// Delivery state.
    public var status: OutboxStatus
    /// The target being tried.
    public var targetIndex: Int
    /// Attempts made on the current target.
    public var attempts: Int
    /// When the next attempt is due.
    public var nextAttemptAt: Timestamp
    /// When the first attempt on the current target was claimed (nil before it): a dispatch target's failover time
    /// counts from there, retries included, and across restarts.
    public var targetSince: Timestamp?

    /// A new pending notification.
    public init(
        id: NotificationID, sessionID: SessionID, type: EventType, targets: [TargetName], webhookIDs: [WebhookID],
        body: [UInt8], createdAt: Timestamp, isDispatch: Bool
    ) {
        self.id = id
        self.sessionID = sessionID
        self.type = type
        self.targets = targets
        self.webhookIDs = webhookIDs
        self.body = body
        self.createdAt = createdAt
        self.isDispatch = isDispatch
        self.status = .pending
        self.targetIndex = 0
        self.attempts = 0
        self.nextAttemptAt = createdAt
        self.targetSince = nil
    }
}

/// A change to an outbox row.
public struct OutboxUpdate: Hashable, Sendable {
    /// The row.
    public var id: NotificationID
    /// Its new status.
    public var status: OutboxStatus
    /// The target now being tried.
    public var targetIndex: Int
    /// Attempts on that target.
    public var attempts: Int
    /// When to try next.
    public var nextAttemptAt: Timestamp
    /// When set, the update applies only while the row is still pending.
    public var onlyIfPending: Bool
    /// Whether this update claims the row for an attempt about to go on the wire (its lease ends at `nextAttemptAt`).
    public var claim: Bool
    /// When the first attempt on `targetIndex` was claimed, written as given: nil when a new target takes over.
    public var targetSince: Timestamp?

    /// Creates an update.
    public init(
        id: NotificationID, status: OutboxStatus, targetIndex: Int, attempts: Int, nextAttemptAt: Timestamp,
        onlyIfPending: Bool = true, claim: Bool = false, targetSince: Timestamp? = nil
    ) {
        self.claim = claim
        self.targetSince = targetSince
        self.id = id
        self.status = status
        self.targetIndex = targetIndex
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.onlyIfPending = onlyIfPending
    }

    /// Withdraws a pending notification.
    public static func cancel(_ id: NotificationID, at now: Timestamp) -> OutboxUpdate {
        OutboxUpdate(id: id, status: .cancelled, targetIndex: 0, attempts: 0, nextAttemptAt: now)
    }
}
