import Logging
import VigilCore
import VigilDelivery

/// The watchdog's alarms: sent first, straight through the transport to the `alarm_targets` (the store may be what
/// failed, and outbox rows need a session), then recorded on the system timeline.
struct SystemAlarms: Sendable {
    let store: any SessionRepository
    let transport: any WebhookTransport
    let clock: any WallClock
    /// Where alarms go.
    let targets: [Target]
    let logger: Logger

    /// Raises (or, with `raised` false, clears) the watchdog's alarm.
    func watchdog(reason: String, raised: Bool) async {
        if raised {
            await DirectAlarm.send(
                .systemAlarm, ["raised": true, "reason": .string(reason)], to: targets, via: transport, clock: clock,
                logger: logger, "system alarm sent")
        }
        let event = NewEvent(EventData.SystemAlarm(raised: raised, reason: reason), at: clock.now())
        // Not awaited: a store that hangs must not hang the watchdog that reports it.
        Task { [store, logger] in
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
/// failed, and outbox rows belong to a session); each answer is logged. The watchdog's, the mass lapse's and the
/// unattended console's alarms all go this way.
enum DirectAlarm {
    static func send(
        _ type: EventType, _ data: [String: JSONValue], to targets: [Target], via transport: any WebhookTransport,
        clock: any WallClock, logger: Logger, _ message: Logger.Message
    ) async {
        for target in targets {
            let sent = try? await OutboxWorker.ping(target, client: transport, at: clock.now(), type: type, data: data)
            logger.warning(
                message,
                metadata: [
                    "target": "\(target.name)", "webhook_id": "\(sent?.webhookID ?? "")",
                    "status": "\(sent?.result.status ?? 0)",
                ])
        }
    }
}
