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
            for target in targets {
                let sent = try? await OutboxWorker.ping(
                    target, client: transport, at: clock.now(), type: .systemAlarm,
                    data: ["raised": true, "reason": .string(reason)])
                logger.warning(
                    "system alarm sent",
                    metadata: [
                        "target": "\(target.name)", "webhook_id": "\(sent?.webhookID ?? "")",
                        "status": "\(sent?.result.status ?? 0)",
                    ])
            }
        }
        let event = NewEvent(.systemAlarm, at: clock.now(), ["raised": .bool(raised), "reason": .string(reason)])
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
