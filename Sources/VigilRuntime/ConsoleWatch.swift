import Logging
import Prometheus
import Synchronization
import VigilCore
import VigilDelivery
import VigilHTTP

/// Watches the watchers: counts the operator consoles whose event stream is connected and, while sessions are open
/// and none has been connected for `unattended_after_s`, raises `system.unattended` once per episode: an event on
/// the timeline and stream, and a `system.alarm` webhook to the `alarm_targets`.
///
/// With several instances, each records its own consoles in the database every second (a heartbeat), and the
/// instance that holds the cluster's `unattended` duty decides on the sum of the fresh heartbeats: a console on any
/// instance keeps every instance from raising the alarm, and one instance raises it.
final class ConsoleWatch: Sendable {
    static let duty = "unattended"
    /// A heartbeat older than this counts for nothing (its instance stopped or lost the database).
    static let fresh = Millis.seconds(5)

    private let engine: SessionEngine
    private let store: any SessionRepository
    private let hub: EventHub
    private let auth: TokenAuthenticator
    private let alarmTargets: [Target]
    private let alarm: DirectAlarm
    private let clock: any WallClock
    private let logger: Logger
    private let monitor: Mutex<UnattendedMonitor>
    private let connected: Gauge
    private let alarms: Counter
    private let cluster: ClusterStore?
    private let duties: ClusterDuties

    init(
        engine: SessionEngine, store: any SessionRepository, hub: EventHub, auth: TokenAuthenticator,
        alarmTargets: [Target], alarm: DirectAlarm, clock: any WallClock, after: Millis,
        registry: PrometheusCollectorRegistry, logger: Logger, cluster: ClusterStore? = nil,
        duties: ClusterDuties? = nil
    ) {
        self.cluster = cluster
        self.duties = duties ?? ClusterDuties(cluster: nil, logger: logger)
        self.engine = engine
        self.store = store
        self.hub = hub
        self.auth = auth
        self.alarmTargets = alarmTargets
        self.alarm = alarm
        self.clock = clock
        self.logger = logger
        monitor = Mutex(UnattendedMonitor(after: after))
        connected = registry.makeGauge(
            descriptor: metric("console", "connected", "Operator consoles with their event stream connected"))
        alarms = registry.makeCounter(
            descriptor: metric(
                "unattended_alarms", "total", "system.unattended alarms: sessions open and no operator console"))
    }

    /// How many consoles of staff (operator, supervisor, admin) have a stream connected now.
    var consoles: Int {
        hub.owners().filter { auth.role(ofTokenNamed: $0.owner)?.isStaff ?? false }.reduce(0) { $0 + $1.streams }
    }

    /// One observation; called every second.
    func check() async {
        // A console whose laptop slept is noticed when a write to its stream fails: a keep-alive every second makes
        // that within a second or two, not at the next 15-second keep-alive.
        if monitor.withLock({ $0.after > .zero }) { hub.tick() }
        var consoles = self.consoles
        connected.set(to: Double(consoles))
        guard monitor.withLock({ $0.after > .zero }) else { return }
        if let cluster {
            do {
                consoles = try await cluster.reportConsoles(consoles)
            } catch {
                // Without the others' heartbeats nothing can be decided; the watchdog alarms a database away.
                return
            }
        }
        guard await duties.hold(Self.duty, for: Self.fresh) != nil else {
            // Another instance decides; should this one hold the duty again, it starts a new observation.
            monitor.withLock { $0 = UnattendedMonitor(after: $0.after) }
            return
        }
        let open = await engine.openCount
        let now = clock.now()
        guard let action = monitor.withLock({ $0.observe(openSessions: open, consoles: consoles, at: now) }) else {
            return
        }
        switch action {
        case .raise(let sessions, let unwatched):
            alarms.increment()
            let reason =
                "no operator console has been connected for \(unwatched.wholeSeconds) s while \(sessions) session(s) are open"
            logger.critical(
                "nobody is watching: system.unattended raised",
                metadata: ["open_sessions": "\(sessions)", "unattended_s": "\(unwatched.wholeSeconds)"])
            await record(raised: true, reason: reason, sessions: sessions, unwatched: unwatched)
            let data: [String: JSONValue] = [
                "raised": true, "alarm": "system.unattended", "reason": .string(reason),
                "open_sessions": .int(Int64(sessions)), "unattended_s": .int(unwatched.wholeSeconds),
            ]
            alarm.send(.systemAlarm, data, to: alarmTargets, "system.unattended alarm sent")
        case .clear(let reason):
            logger.notice("system.unattended cleared", metadata: ["reason": "\(reason)"])
            await record(raised: false, reason: reason, sessions: open, unwatched: nil)
        }
    }

    private func record(raised: Bool, reason: String, sessions: Int, unwatched: Millis?) async {
        let event = NewEvent(
            EventData.SystemUnattended(
                raised: raised, reason: reason, openSessions: sessions, unattendedS: unwatched?.wholeSeconds),
            at: clock.now())
        do {
            _ = try await store.commit(
                CommitBatch(
                    session: nil, expectedVersion: nil, sessionID: nil, events: [event], outbox: [], outboxUpdates: []))
        } catch {
            logger.error("system.unattended could not be recorded", metadata: ["error": "\(error)"])
        }
    }
}
