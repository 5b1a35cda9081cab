import Logging
import VigilCore
import VigilDelivery

/// Raises `system.mass_lapse` once per episode: an event on the stream (the console alarms) and a webhook to
/// `mass_lapse.notify` (default: `alarm_targets`), sent straight through libcurl like the watchdog's alarm.
enum MassLapseAlarm {
    /// On one instance the engine counts the lapses it decides; with several (`cluster`), the holder of the
    /// cluster's mass-lapse duty counts every instance's from the shared log, and the round it returns runs that.
    static func install(
        engine: SessionEngine, store: any SessionRepository, alarm: DirectAlarm, config: VigilConfig,
        cluster: ClusterStore?, duties: ClusterDuties, clock: any WallClock, logger: Logger
    ) async -> ClusterMassLapse? {
        let raise = raiser(store: store, alarm: alarm, config: config, logger: logger)
        guard let cluster else {
            await engine.setMassLapse(config.massLapse, onEpisode: raise)
            return nil
        }
        guard config.massLapse.sessions > 0 else { return nil }
        return ClusterMassLapse(
            settings: config.massLapse, cluster: cluster, duties: duties, engine: engine, clock: clock,
            raise: raise, logger: logger)
    }

    static func raiser(store: any SessionRepository, alarm: DirectAlarm, config: VigilConfig, logger: Logger)
        -> @Sendable (Int, Timestamp) async -> Void
    {
        let targets = (config.massLapseNotify ?? config.alarmTargets).compactMap { config.targets[$0] }
        let settings = config.massLapse
        return { count, at in
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
