import VigilCore

/// Every decision of one notification's delivery, made from facts without I/O (event in, action out), so that it is
/// table-tested like `RetryPlanner` and `OutboxWorker` only performs what it is told: claim, send, reschedule,
/// report.
///
/// Failover is not here: when a target's end is reported, `SessionMachine` moves the notification to the next
/// target in the same durable commit that records the end on the session's timeline (one decision, one commit).
public struct DeliveryMachine: Sendable {
    /// The configured targets, by name.
    public let targets: [TargetName: Target]

    /// Creates a machine over the configured targets.
    public init(targets: [TargetName: Target]) { self.targets = targets }

    /// The lease taken before an attempt: the attempt is counted first (a crash mid-flight grants no extra attempt),
    /// and the row falls due again only once the attempt has surely ended (its timeout and a second), so a crashed
    /// sender's row is retried, and a live one's is not sent twice.
    public func claim(_ item: OutboxItem, at now: Timestamp) -> OutboxUpdate {
        let timeout =
            item.targets.indices.contains(item.targetIndex)
            ? targets[item.targets[item.targetIndex]]?.timeout ?? .zero : .zero
        return OutboxUpdate(
            id: item.id, status: .pending, targetIndex: item.targetIndex, attempts: item.attempts + 1,
            nextAttemptAt: now + timeout + Millis(1000), claim: true)
    }

    /// What to do with a claimed notification before sending it.
    public enum Start: Sendable, Equatable {
        /// Send it to this target under this webhook id, as attempt number `attempt`.
        case send(targetName: TargetName, webhookID: WebhookID, attempt: Int)
        /// It cannot be sent to its current target: report this end (the next target takes over).
        case report(DeliveryOutcome)
    }

    /// The attempt a claimed notification gets.
    public func start(_ item: OutboxItem) -> Start {
        let index = item.targetIndex
        let attempt = item.attempts + 1
        guard item.targets.indices.contains(index), item.webhookIDs.indices.contains(index) else {
            return .report(
                .targetFailed(targetIndex: index, reason: "no such target in the notification", attempts: attempt))
        }
        guard targets[item.targets[index]] != nil else {
            return .report(.targetFailed(targetIndex: index, reason: "target not configured", attempts: attempt))
        }
        return .send(targetName: item.targets[index], webhookID: item.webhookIDs[index], attempt: attempt)
    }

    /// The end of an attempt whose body could not be rendered: rendering is deterministic, so a retry cannot help,
    /// and an empty signed body must never be sent.
    public func renderFailed(_ item: OutboxItem, error: String) -> DeliveryOutcome {
        .targetFailed(
            targetIndex: item.targetIndex, reason: "the body could not be rendered: \(error)",
            attempts: item.attempts + 1)
    }

    /// What follows an attempt.
    public enum Settle: Sendable, Equatable {
        /// The target's end, for the engine to record (delivered, or failed: the next target takes over).
        case report(DeliveryOutcome)
        /// Try the same target again: write this and wait.
        case retry(OutboxUpdate, reason: String)
    }

    /// What an attempt's result means, by the target's retry settings; `jitter` in 0...1 spreads the backoff.
    public func settle(_ item: OutboxItem, result: HTTPResult, jitter: Double, now: Timestamp) -> Settle {
        let index = item.targetIndex
        let attempt = item.attempts + 1
        let settings =
            item.targets.indices.contains(index)
            ? targets[item.targets[index]]?.retry ?? RetrySettings() : RetrySettings()
        switch RetryPlanner.verdict(result, attempt: attempt, settings: settings, jitter: jitter, now: now) {
        case .delivered(let status):
            return .report(.delivered(targetIndex: index, status: status, attempts: attempt))
        case .retry(let after, let reason):
            return .retry(
                OutboxUpdate(
                    id: item.id, status: .pending, targetIndex: index, attempts: attempt, nextAttemptAt: now + after),
                reason: reason)
        case .giveUp(let reason):
            return .report(.targetFailed(targetIndex: index, reason: reason, attempts: attempt))
        }
    }
}
