import Logging
import Prometheus
import Synchronization
import VigilCore
import VigilDelivery

/// Runs the canary rounds of `canary:` (docs/contract.md, "Canaries"): every `every_s` a canary session starts
/// through the engine, lapses one second later through the real timer and decision, and its `test.ping` to each
/// target goes through the outbox and delivery like any notification. Each target's 2xx is `canary.passed` with
/// the time from the canary's deadline; no 2xx within `timeout_s` of it (the last attempt's failure, or the time
/// running out, whichever comes first) is `canary.failed` and a `system.alarm` to `alarm_targets` naming the
/// target. A round ends its session once every target has passed or failed.
final class CanaryRunner: Sendable {
    private let engine: SessionEngine
    private let store: any SessionRepository
    private let alarm: DirectAlarm
    private let alarmTargets: [Target]
    private let settings: CanarySettings
    private let clock: any WallClock
    private let logger: Logger
    /// Whether this instance runs the next round. Always true for now: with several instances each runs its own
    /// rounds until a store lease for cluster duties decides which one does.
    private let duty: @Sendable () async -> Bool
    private let lastSuccess: [TargetName: Gauge]
    private let latency: ValueHistogram

    /// One round: its deadline and the targets not yet passed or failed.
    struct Round: Sendable {
        var deadline: Timestamp
        var pending: Set<TargetName>
    }

    /// The dashboard's view of one target: its last success and its recent latencies, oldest first.
    struct TargetView: Sendable {
        var lastSuccess: Timestamp?
        var lastFailure: Timestamp?
        var latencies: [Int64] = []
    }

    private struct State {
        var nextRound: Timestamp?
        var rounds: [SessionID: Round] = [:]
        var board: [TargetName: TargetView] = [:]
    }
    private let state = Mutex(State())
    /// How many latencies each target keeps for the dashboard's trend line.
    static let trendLength = 24

    init(
        engine: SessionEngine, store: any SessionRepository, alarm: DirectAlarm, alarmTargets: [Target],
        settings: CanarySettings, clock: any WallClock, registry: PrometheusCollectorRegistry, logger: Logger,
        duty: @escaping @Sendable () async -> Bool = { true }
    ) {
        self.engine = engine
        self.store = store
        self.alarm = alarm
        self.alarmTargets = alarmTargets
        self.settings = settings
        self.clock = clock
        self.logger = logger
        self.duty = duty
        var gauges: [TargetName: Gauge] = [:]
        for t in Set(settings.targets) {
            gauges[t] = registry.makeGauge(
                descriptor: RuntimeMetrics.descriptor(
                    "vigil_canary_last_success_timestamp_seconds",
                    "When a canary's test.ping last reached the target (Unix seconds; 0 before the first)"),
                labels: [("target", t.rawValue)])
        }
        lastSuccess = gauges
        latency = registry.makeValueHistogram(
            descriptor: RuntimeMetrics.descriptor(
                "vigil_canary_deadline_to_delivery_seconds",
                "From a canary's deadline to its test.ping's 2xx, in seconds"),
            buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60])
        state.withLock { s in for t in settings.targets { s.board[t] = TargetView() } }
    }

    /// Each target's last success and latency trend, for the dashboard.
    var board: [TargetName: TargetView] { state.withLock { $0.board } }

    /// The dashboard's row, as `GET /v1/canary` answers it (no personal data: target names and times).
    func json() -> JSONValue {
        let board = self.board
        let rows: [JSONValue] = settings.targets.map { t in
            let v = board[t] ?? TargetView()
            return .object([
                "target": .string(t.rawValue), "last_success": .time(v.lastSuccess),
                "last_failure": .time(v.lastFailure), "latencies_ms": .array(v.latencies.map { .int($0) }),
            ])
        }
        return .object([
            "enabled": true, "every_s": .int(settings.every.wholeSeconds),
            "timeout_s": .int(settings.timeout.wholeSeconds), "targets": .array(rows),
        ])
    }

    /// Four times a second: starts a round when one is due (the first at the second tick, then every `every_s`), and
    /// fails the targets of rounds whose time ran out.
    func tick() async {
        let now = clock.now()
        let due = state.withLock { s -> Bool in
            guard let next = s.nextRound else {
                s.nextRound = now
                return false
            }
            return now >= next
        }
        if due {
            state.withLock { $0.nextRound = now + settings.every }
            if await duty() { await startRound() }
        }
        let expired = state.withLock { s -> [(SessionID, [TargetName])] in
            s.rounds.compactMap { id, r in
                now >= r.deadline + settings.timeout ? (id, r.pending.sorted { $0.rawValue < $1.rawValue }) : nil
            }
        }
        for (id, targets) in expired {
            for t in targets {
                await failed(
                    id, t, reason: "no 2xx within \(settings.timeout.wholeSeconds) s of the canary's deadline")
            }
        }
    }

    /// At start: a round an earlier process left open can no longer be timed; it is ended (a new one follows).
    func boot() async {
        for s in await engine.openSessions() where s.id.isCanary {
            _ = try? await engine.execute(s.id, .end(outcome: .other, by: "canary", note: nil))
        }
    }

    private func startRound() async {
        do {
            let s = try await engine.startCanary(settings.targets)
            state.withLock { $0.rounds[s.id] = Round(deadline: s.due, pending: Set(settings.targets)) }
        } catch {
            logger.error("a canary round could not start", metadata: ["error": "\(error)"])
            for t in settings.targets {
                await raise(t, reason: "the canary round could not start: \(error)", round: nil)
            }
        }
    }

    /// Reads committed events for its rounds' deliveries (called from the store's commit hook).
    func observe(_ events: [StoredEvent]) {
        for e in events {
            guard let id = e.sessionID, id.isCanary else { continue }
            if e.type == .deliverySucceeded, let d = e.data(as: EventData.DeliverySucceeded.self), d.type == .testPing {
                Task { await self.passed(id, d.target, at: e.at) }
            } else if e.type == .deliveryFailed, let d = e.data(as: EventData.DeliveryFailed.self),
                d.type == .testPing
            {
                for t in d.targets { Task { await self.failed(id, t, reason: d.reason) } }
            }
        }
    }

    private func passed(_ id: SessionID, _ target: TargetName, at: Timestamp) async {
        guard let deadline = settle(id, target) else { return }
        let ms = max(0, (at - deadline).value)
        latency.record(Double(ms) / 1000)
        lastSuccess[target]?.set(to: Double(at.millis) / 1000)
        state.withLock { s in
            s.board[target, default: TargetView()].lastSuccess = at
            s.board[target, default: TargetView()].latencies.append(ms)
            if let n = s.board[target]?.latencies.count, n > Self.trendLength {
                s.board[target]?.latencies.removeFirst(n - Self.trendLength)
            }
        }
        await record(EventData.CanaryPassed(target: target, latencyMs: ms, round: id))
        await endIfDone(id)
    }

    private func failed(_ id: SessionID, _ target: TargetName, reason: String) async {
        guard settle(id, target) != nil else { return }
        state.withLock { $0.board[target, default: TargetView()].lastFailure = clock.now() }
        await record(EventData.CanaryFailed(target: target, reason: reason, round: id))
        await raise(target, reason: reason, round: id)
        await endIfDone(id)
    }

    /// Takes `target` off its round's pending list; its round's deadline, or nil when it was settled already.
    private func settle(_ id: SessionID, _ target: TargetName) -> Timestamp? {
        state.withLock { s in
            guard let r = s.rounds[id], r.pending.contains(target) else { return nil }
            s.rounds[id]?.pending.remove(target)
            return r.deadline
        }
    }

    private func endIfDone(_ id: SessionID) async {
        let done = state.withLock { s -> Bool in
            guard let r = s.rounds[id], r.pending.isEmpty else { return false }
            s.rounds[id] = nil
            return true
        }
        guard done else { return }
        // Ending cancels any ping still being retried: its target has failed already.
        _ = try? await engine.execute(id, .end(outcome: .other, by: "canary", note: nil))
    }

    private func raise(_ target: TargetName, reason: String, round: SessionID?) async {
        let text = "canary: \(target.rawValue) did not answer a test.ping: \(reason)"
        logger.critical("canary failed", metadata: ["target": "\(target.rawValue)", "reason": "\(reason)"])
        alarm.send(
            .systemAlarm, ["raised": true, "reason": .string(text), "target": .string(target.rawValue)],
            to: alarmTargets, "canary alarm sent")
        await record(EventData.SystemAlarm(raised: true, reason: text))
    }

    private func record(_ payload: some EventPayload) async {
        do {
            _ = try await store.commit(
                CommitBatch(
                    session: nil, expectedVersion: nil, sessionID: nil, events: [NewEvent(payload, at: clock.now())],
                    outbox: [], outboxUpdates: []))
        } catch {
            logger.error("a canary event could not be recorded", metadata: ["error": "\(error)"])
        }
    }
}
