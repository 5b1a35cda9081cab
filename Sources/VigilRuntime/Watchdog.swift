import Logging
import Synchronization
import VigilCore
import VigilDelivery
import VigilHTTP

/// Checks that the service is doing its job: deadlines fire, the outbox drains, the delivery thread turns, the
/// store answers. A failure raises a system alarm and turns `/readyz` red; a monitor that fails silently is
/// worse than none.
final class Watchdog: Sendable {
    private let engine: SessionEngine
    private let store: any SessionStore
    private let client: any WebhookTransport
    private let worker: OutboxWorker
    private let clock: any WallClock
    private let wallSkew: @Sendable () -> Millis
    private let deadlineSlack: Millis
    private let outboxSlack: Millis
    private let logger: Logger
    private let onAlarm: @Sendable (String, Bool) async -> Void
    private let databaseNow: (@Sendable () async throws -> Timestamp)?
    /// What the last run found.
    private struct State {
        /// Every check passed.
        var ok = false
        /// Each check and what it found.
        var checks: [String: String] = [:]
        /// A run has completed (the service is not content before its first).
        var ran = false
        /// The wall-clock step has been logged (once).
        var skewWarned = false
        /// When (monotonic milliseconds) the store call now in flight began; nil when none is.
        var storeWaitingSince: Int64?
    }

    /// How long a store call may go unanswered before `/readyz` says not ready, whatever the call's own deadline.
    /// A database that stopped answering (a silent partition, PostgreSQL stopped) turns the probe red within about
    /// this plus the watchdog's one-second pace, so a load balancer stops sending people to an instance that cannot
    /// record their check-in.
    static let storeAnswerWithin: Int64 = 2000
    private let state = Mutex(State())

    init(
        engine: SessionEngine, store: any SessionStore, client: any WebhookTransport, worker: OutboxWorker,
        clock: any WallClock, wallSkew: @escaping @Sendable () -> Millis, deadlineSlack: Millis, outboxSlack: Millis,
        logger: Logger,
        databaseNow: (@Sendable () async throws -> Timestamp)? = nil,
        onAlarm: @escaping @Sendable (String, Bool) async -> Void
    ) {
        self.databaseNow = databaseNow
        self.engine = engine
        self.store = store
        self.client = client
        self.worker = worker
        self.clock = clock
        self.wallSkew = wallSkew
        self.deadlineSlack = deadlineSlack
        self.outboxSlack = outboxSlack
        self.logger = logger
        self.onAlarm = onAlarm
    }

    /// Whether every check passed on the last run, and no store call is overdue now.
    var isContent: Bool { report.ok }

    /// The last run's checks, and a store call overdue now.
    var report: (ok: Bool, checks: [String: String]) {
        let mono = SystemClocks.monotonicMillis()
        return state.withLock { s in
            var checks = s.checks
            var ok = s.ok && s.ran
            if let since = s.storeWaitingSince, mono - since > Self.storeAnswerWithin {
                checks["store"] = "the store has not answered for \(mono - since) ms"
                ok = false
            }
            return (ok, checks)
        }
    }

    /// Runs a store call, marking it in flight so that `report` can tell a store that stopped answering.
    private func storeCall<T: Sendable>(_ call: () async throws -> T) async throws -> T {
        state.withLock { $0.storeWaitingSince = SystemClocks.monotonicMillis() }
        defer { state.withLock { $0.storeWaitingSince = nil } }
        return try await call()
    }

    /// Runs every check once.
    func check() async {
        let now = clock.now()
        var checks: [String: String] = [:]
        var failures: [String] = []
        if let past = await engine.oldestPastDeadline(), now - past > deadlineSlack {
            checks["scheduler"] = "a deadline is \((now - past).value) ms past without firing"
            failures.append("scheduler stalled")
        } else {
            checks["scheduler"] = "ok"
        }
        do {
            try await storeCall { try await store.ping() }
            checks["store"] = "ok"
            if let oldest = try await storeCall({ try await store.oldestPendingNotification() }),
                now - oldest > outboxSlack
            {
                checks["outbox"] = "a notification has waited \((now - oldest).value) ms"
                failures.append("outbox stalled")
            } else {
                checks["outbox"] = "ok"
            }
        } catch {
            checks["store"] = "\(error)"
            failures.append("store unreachable")
        }
        let mono = CurlClient.monotonicMillis()
        if mono - client.lastLoopTick > 5000 || mono - worker.lastPumpTick > 5000 {
            checks["delivery"] =
                "the delivery thread has not turned for \(mono - min(client.lastLoopTick, worker.lastPumpTick)) ms"
            failures.append("delivery stalled")
        } else {
            checks["delivery"] = "ok"
        }
        if let databaseNow {
            // With several instances, "is it due?" must mean the same everywhere: an instance whose clock is more
            // than half a second from the database's stops deciding until it agrees again.
            let before = clock.now()
            if let db = try? await storeCall({ try await databaseNow() }) {
                let after = clock.now()
                let mid = before + Millis((after - before).value / 2)
                let drift = (mid - db).value
                if abs(drift) > 500 {
                    checks["cluster_clock"] = "this instance's clock differs from the database's by \(drift) ms"
                    failures.append("clock drift")
                    await engine.setDeciding(false)
                } else {
                    checks["cluster_clock"] = "ok"
                    await engine.setDeciding(true)
                }
            }
        }
        let skew = wallSkew()
        if abs(skew.value) > 2000 {
            let warned = state.withLock { s -> Bool in
                defer { s.skewWarned = true }
                return s.skewWarned
            }
            let step = "the system clock stepped by \(skew.value) ms; deadlines keep Vigil's own time until restart"
            if !warned {
                logger.critical(
                    "the system clock stepped; deadlines keep Vigil's own time until restart",
                    metadata: ["skew_ms": "\(skew.value)"])
                // Raised once: times Vigil shows now differ from the machine's, which an operator must know.
                await onAlarm(step, true)
            }
            checks["clock"] = step
        } else {
            checks["clock"] = "ok"
        }
        let ok = failures.isEmpty
        let was = state.withLock { s -> (ok: Bool, ran: Bool) in
            let previous = (s.ok, s.ran)
            s.ok = ok
            s.checks = checks
            s.ran = true
            return previous
        }
        if !ok && (was.ok || !was.ran) {
            logger.critical("watchdog alarm", metadata: ["failures": "\(failures.joined(separator: ", "))"])
            await onAlarm(failures.joined(separator: "; "), true)
        } else if ok && !was.ok && was.ran {
            logger.notice("watchdog alarm cleared")
            await onAlarm("all checks pass again", false)
        }
    }
}
