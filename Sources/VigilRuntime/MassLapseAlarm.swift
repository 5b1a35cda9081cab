import Logging
import VigilCore
import VigilDelivery

/// Raises `system.mass_lapse` once per episode: an event on the stream (the console alarms) and a webhook to
/// `mass_lapse.notify` (default: `alarm_targets`), sent straight through libcurl like the watchdog's alarm.
enum MassLapseAlarm {
    static func install(
        engine: SessionEngine, store: any SessionRepository, alarm: DirectAlarm, config: VigilConfig, logger: Logger
    ) async {
        let targets = (config.massLapseNotify ?? config.alarmTargets).compactMap { config.targets[$0] }
        let settings = config.massLapse
        await engine.setMassLapse(settings) { count, at in
            let reason =
                "\(count) sessions lapsed within \(settings.within.wholeSeconds) s: check the phone and SMS "
                + "providers and the console's network before sending help to each"
            let event = EventData.SystemMassLapse(
                count: count, withinS: settings.within.wholeSeconds, threshold: settings.sessions, reason: reason)
            logger.critical("mass lapse", metadata: ["count": "\(count)"])
            _ = try? await store.commit(
                CommitBatch(
                    session: nil, expectedVersion: nil, sessionID: nil,
                    events: [NewEvent(event, at: at)], outbox: [], outboxUpdates: []))
            alarm.send(.systemMassLapse, event.jsonObject(), to: targets, "mass lapse alarm sent")
        }
    }
}
