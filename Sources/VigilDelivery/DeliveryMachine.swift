import VigilCore

/// Every decision of one notification's delivery, made from facts without I/O (event in, action out), so that it is
/// table-tested like `RetryPlanner` and `OutboxWorker` only performs what it is told: claim, send, reschedule,
/// report.
///
/// Failover is not here: when a target's end is reported, `SessionMachine` moves the notification to the next
/// target in the same durable commit that records the end on the session's timeline (one decision, one commit).
/// What is here is when a dispatch target's turn ends: its retries run out, it refuses, or its failover time
/// (`failover_after_s`, counted from its first attempt) passes while a next target waits.
public struct DeliveryMachine: Sendable {
    /// The configured targets, by name.
    public let targets: [TargetName: Target]

    /// Creates a machine over the configured targets.
    public init(targets: [TargetName: Target]) { self.targets = targets }

    private func current(_ item: OutboxItem) -> Target? {
        item.targets.indices.contains(item.targetIndex) ? targets[item.targets[item.targetIndex]] : nil
    }

    /// When the current target's turn with a dispatch ends: its first attempt (`since`) plus its failover time.
    /// Nil for other notifications, and for the last target of a list: with nobody to hand over to, its retries run
    /// their course (and a final failure is `delivery.failed`).
    public func failoverDeadline(_ item: OutboxItem, since: Timestamp?) -> Timestamp? {
        guard item.isDispatch, item.targetIndex + 1 < item.targets.count, let since, let target = current(item)
        else { return nil }
        return since + target.failoverAfter
    }

    /// The lease taken before an attempt: the attempt is counted first (a crash mid-flight grants no extra attempt),
    /// and the row falls due again only once the attempt has surely ended (its timeout and a second), so a crashed
    /// sender's row is retried, and a live one's is not sent twice. The first claim on a target starts its failover
    /// clock (`targetSince`).
    public func claim(_ item: OutboxItem, at now: Timestamp) -> OutboxUpdate {
        let since = item.targetSince ?? now
        var timeout = current(item)?.timeout ?? .zero
        if let end = failoverDeadline(item, since: since) { timeout = max(.zero, min(timeout, end - now)) }
        return OutboxUpdate(
            id: item.id, status: .pending, targetIndex: item.targetIndex, attempts: item.attempts + 1,
            nextAttemptAt: now + timeout + Millis(1000), claim: true, targetSince: since)
    }

    /// What to do with a claimed notification before sending it.
    public enum Start: Sendable, Equatable {
        /// Send it to this target under this webhook id, as attempt number `attempt`, giving up on the answer after
        /// `timeout` (the target's, or less when its failover time is nearer).
        case send(targetName: TargetName, webhookID: WebhookID, attempt: Int, timeout: Millis)
        /// It cannot be sent to its current target: report this end (the next target takes over).
        case report(DeliveryOutcome)
    }

    /// The attempt a claimed notification gets at `now`; `item.targetSince` is the claim's.
    public func start(_ item: OutboxItem, at now: Timestamp) -> Start {
        let index = item.targetIndex
        let attempt = item.attempts + 1
        guard item.targets.indices.contains(index), item.webhookIDs.indices.contains(index) else {
            return .report(
                .targetFailed(targetIndex: index, reason: "no such target in the notification", attempts: attempt))
        }
        guard let target = targets[item.targets[index]] else {
            return .report(.targetFailed(targetIndex: index, reason: "target not configured", attempts: attempt))
        }
        var timeout = target.timeout
        if let end = failoverDeadline(item, since: item.targetSince) {
            // A retry that came due late (a restart, a busy machine) finds the turn over: the next target takes it.
            guard end > now else {
                return .report(.targetFailed(targetIndex: index, reason: overdue(target), attempts: item.attempts))
            }
            timeout = min(timeout, end - now)
        }
        return .send(
            targetName: item.targets[index], webhookID: item.webhookIDs[index], attempt: attempt, timeout: timeout)
    }

    private func overdue(_ target: Target) -> String {
        "no 2xx within failover_after_s (\(target.failoverAfter.value) ms) of the first attempt"
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

    /// What an attempt's result means, by the target's retry settings; `jitter` in 0...1 spreads the backoff. A
    /// dispatch target whose next attempt could not begin before its failover time (a backoff or a `Retry-After`
    /// longer than what is left) ends its turn now: waiting out the rest would only hold the dispatch from the next
    /// target.
    public func settle(_ item: OutboxItem, result: HTTPResult, jitter: Double, now: Timestamp) -> Settle {
        let index = item.targetIndex
        let attempt = item.attempts + 1
        let target = current(item)
        let settings = target?.retry ?? RetrySettings()
        switch RetryPlanner.verdict(result, attempt: attempt, settings: settings, jitter: jitter, now: now) {
        case .delivered(let status):
            return .report(.delivered(targetIndex: index, status: status, attempts: attempt))
        case .retry(let after, let reason):
            if let target, let end = failoverDeadline(item, since: item.targetSince), now + after >= end {
                return .report(
                    .targetFailed(targetIndex: index, reason: "\(reason); \(overdue(target))", attempts: attempt))
            }
            return .retry(
                OutboxUpdate(
                    id: item.id, status: .pending, targetIndex: index, attempts: attempt, nextAttemptAt: now + after,
                    targetSince: item.targetSince),
                reason: reason)
        case .giveUp(let reason):
            return .report(.targetFailed(targetIndex: index, reason: reason, attempts: attempt))
        }
    }
}
