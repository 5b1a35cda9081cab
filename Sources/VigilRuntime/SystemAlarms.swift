import Logging
import VigilCore
import VigilDelivery

/// The watchdog's alarms: sent first, straight through the transport to the `alarm_targets` (the store may be what
/// failed, and outbox rows need a session), then recorded on the system timeline.
struct SystemAlarms: Sendable {
    let store: any SessionRepository
    /// Sends and retries each alarm.
    let alarm: DirectAlarm
    /// Where alarms go.
    let targets: [Target]

    /// Raises (or, with `raised` false, clears) the watchdog's alarm.
    func watchdog(reason: String, raised: Bool) async {
        if raised {
            alarm.send(.systemAlarm, ["raised": true, "reason": .string(reason)], to: targets, "system alarm sent")
        }
        let event = NewEvent(EventData.SystemAlarm(raised: raised, reason: reason), at: alarm.clock.now())
        // Not awaited: a store that hangs must not hang the watchdog that reports it.
        Task { [store, logger = alarm.logger] in
            do {
                _ = try await store.commit(
                    CommitBatch(
                        session: nil, expectedVersion: nil, sessionID: nil, events: [event], outbox: [],
                        outboxUpdates: []))
            } catch {
                logger.error("the system alarm could not be recorded", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// An alarm sent straight to each of its targets through the transport, outside the outbox (the store may be what
/// failed, and outbox rows belong to a session). The watchdog's, the mass lapse's and the unattended console's
/// alarms all go this way. Like every notification it is retried as the target's `retry` says (same webhook id and
/// body, a fresh signature each attempt, `Retry-After` honoured, a refusal not retried), each target on its own so
/// that a slow one delays neither the others nor the caller; an alarm no attempt delivered is logged as critical
/// and counted (`vigil_alarm_delivery_failures_total`), never dropped in silence.
struct DirectAlarm: Sendable {
    let transport: any WebhookTransport
    let clock: any WallClock
    let logger: Logger
    var hotline = Hotline()
    /// Waits between attempts (hand-moved in tests).
    var sleep: @Sendable (Millis) async -> Void = { try? await Task.sleep(for: .milliseconds($0.value)) }
    /// Each attempt's end, for the delivery metrics.
    var onAttempt: (@Sendable (AttemptRecord) -> Void)? = nil
    /// A target that never took the alarm, for the failure metric.
    var onGiveUp: (@Sendable (TargetName) -> Void)? = nil
    /// The target as now configured, by name (a reload may have changed it); nil: as given.
    var current: (@Sendable (TargetName) -> Target?)? = nil

    /// Sends `data` as a `type` webhook to every target, in the background; each task ends true when its target
    /// answered 2xx (tests await them, callers need not).
    @discardableResult
    func send(
        _ type: EventType, _ data: [String: JSONValue], to targets: [Target], _ message: Logger.Message
    ) -> [Task<Bool, Never>] {
        let now = clock.now()
        return targets.map { given in
            let target = current?(given.name) ?? given
            return Task { await deliver(type, data, to: target, firstAt: now, message) }
        }
    }

    /// Every attempt on one target, until a 2xx, a refusal, or its attempts are spent.
    func deliver(
        _ type: EventType, _ data: [String: JSONValue], to target: Target, firstAt: Timestamp,
        _ message: Logger.Message
    ) async -> Bool {
        let webhookID = IDGenerator.system.webhookID()
        var meta: Logger.Metadata = [
            "target": "\(target.name)", "webhook_id": "\(webhookID)", "type": "\(type.rawValue)",
        ]
        let body: [UInt8]
        do {
            body = try OutboxWorker.directBody(
                target, type: type, data: data, at: firstAt, webhookID: webhookID, hotline: hotline)
        } catch {
            meta["error"] = "\(error)"
            return gaveUp(target, "the alarm's body cannot be rendered for this target", meta)
        }
        var attempt = 1
        while true {
            let started = CurlClient.monotonicMillis()
            let result = await transport.perform(target.request(body: body, webhookID: webhookID, at: clock.now()))
            let elapsed = CurlClient.monotonicMillis() - started
            meta["attempt"] = "\(attempt)"
            meta["status"] = "\(result.status)"
            switch RetryPlanner.verdict(
                result, attempt: attempt, settings: target.retry, jitter: Double.random(in: 0...1), now: clock.now())
            {
            case .delivered:
                onAttempt?(AttemptRecord(target: target.name, result: .delivered, millis: elapsed))
                logger.warning(message, metadata: meta)
                return true
            case .retry(let after, let reason):
                onAttempt?(AttemptRecord(target: target.name, result: .retry, millis: elapsed))
                meta["reason"] = "\(reason)"
                meta["retry_in_ms"] = "\(after.value)"
                logger.error("alarm attempt failed; retrying", metadata: meta)
                await sleep(after)
                if Task.isCancelled { return gaveUp(target, "the service is stopping", meta) }
                attempt += 1
            case .giveUp(let reason):
                onAttempt?(AttemptRecord(target: target.name, result: .failed, millis: elapsed))
                return gaveUp(target, reason, meta)
            }
        }
    }

    private func gaveUp(_ target: Target, _ reason: String, _ metadata: Logger.Metadata) -> Bool {
        var meta = metadata
        meta["reason"] = "\(reason)"
        logger.critical("ALARM NOT DELIVERED: the alarm target never took this system alarm", metadata: meta)
        onGiveUp?(target.name)
        return false
    }
}
