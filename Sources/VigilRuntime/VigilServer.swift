import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import VigilCore
import VigilDelivery
import VigilHTTP
import VigilStore

/// The composition root: the only place that knows every concrete type.
public enum VigilServer {
    /// Opens the store, recovers every open session, then serves until SIGTERM or SIGINT.
    public static func run(config: VigilConfig, assetsDirectory: String?, logger: Logger) async throws {
        let environment = ProcessInfo.processInfo.environment
        for warning in config.warnings { logger.warning("\(warning)") }
        if !["127.0.0.1", "::1", "localhost"].contains(config.host) {
            logger.warning(
                "listening off loopback without TLS: put a TLS-terminating proxy in front (ops/nginx-vigil.conf)",
                metadata: ["listen": "\(config.host):\(config.port)"])
        }
        if let settings = config.postgres {
            try await runPostgres(
                config: config, settings: settings, assetsDirectory: assetsDirectory, logger: logger)
            return
        }
        let dataDir = (config.sqlitePath as NSString).deletingLastPathComponent
        let keyFile = config.keyFile ?? ((dataDir.isEmpty ? "." : dataDir) + "/vigil.key")
        // Held for the whole run: `vigil restore` refuses to write under it, and this start waits for no restore.
        var lock: InstanceLock?
        if FileManager.default.isWritableFile(atPath: dataDir.isEmpty ? "." : dataDir) {
            lock = try InstanceLock.serving(database: config.sqlitePath)
        }
        let store: SQLiteStore
        do {
            // Opening the store first checks the data directory, before a key file is written into it.
            store = try SQLiteStore(path: config.sqlitePath, sealer: nil)
        }
        if lock == nil { lock = try InstanceLock.serving(database: config.sqlitePath) }
        let (sealer, created) = try AESGCMSealer.load(keyEnv: config.keyEnv, keyFile: keyFile, environment: environment)
        if created {
            logger.notice(
                "created a new encryption key; back it up apart from the database", metadata: ["file": "\(keyFile)"])
        }
        _ = store
        let sealed = try SQLiteStore(path: config.sqlitePath, sealer: sealer)
        let storage = Storage(
            store: sealed, shared: false, onCommit: { sealed.onCommit($0) }, wakeups: nil, claimDue: nil,
            databaseNow: nil, lastSequence: { 0 })
        try await run(
            config: config, storage: storage, secret: sealer.derivedSecret("vigil stream tickets"),
            assetsDirectory: assetsDirectory, logger: logger)
        withExtendedLifetime(lock) {}
    }

    static func run(
        config: VigilConfig, storage: Storage, secret: [UInt8], assetsDirectory: String?, logger: Logger
    ) async throws {
        let store = storage.store
        let registry = PrometheusCollectorRegistry()
        let hub = EventHub()
        let metrics = RuntimeMetrics(registry: registry, targets: Array(config.targets.keys))
        let followerBox = Mutex<EventFollower?>(nil)
        storage.onCommit { events in
            if storage.shared {
                // Every instance's events reach the consoles from the log, in order: this commit only wakes it.
                followerBox.withLock { $0 }?.committedHere(events)
            } else {
                hub.publish(events)
                metrics.record(events)
            }
        }
        let clock = AnchoredClock()
        let engineBox = Mutex<SessionEngine?>(nil)
        let scheduler = DispatchTimerScheduler(clock: clock) { ids in
            guard let engine = engineBox.withLock({ $0 }) else { return }
            // Every deadline due now is decided in one engine turn and written in one group commit.
            Task {
                let r = await engine.fire(ids)
                if r.errors > 0 {
                    logger.error(
                        "deadlines could not be recorded; the sweep will retry", metadata: ["sessions": "\(r.errors)"])
                }
            }
        }
        let observer = RuntimeObserver()
        let engine = SessionEngine(
            store: store, scheduler: scheduler, clock: clock, policies: config.policies, observer: observer)
        engineBox.withLock { $0 = engine }
        await engine.setRouting(config.routes, targets: Set(config.targets.keys))
        let started = ContinuousClock.now
        let recovered = try await engine.recover()
        logger.notice(
            "recovered open sessions",
            metadata: [
                "sessions": "\(recovered)",
                "ms":
                    "\((ContinuousClock.now - started).components.attoseconds / 1_000_000_000_000_000 + (ContinuousClock.now - started).components.seconds * 1000)",
            ])

        let orphans = try await store.releaseOrphanedClaims(at: clock.now())
        if orphans > 0 {
            logger.warning(
                "resending notifications that were in flight when the last process stopped",
                metadata: ["notifications": "\(orphans)"])
        }
        let client = CurlClient()
        let worker = OutboxWorker(
            store: store, engine: engine, client: client, targets: config.targets, clock: clock,
            logger: Logger(label: "vigil.delivery"), claim: storage.claimDue, hotline: config.hotline,
            onAttempt: { metrics.record($0) })
        observer.worker.withLock { $0 = worker }
        let follower = EventFollower(
            storage: storage, hub: hub, engine: engine, metrics: metrics, logger: Logger(label: "vigil.events"))
        if storage.shared { followerBox.withLock { $0 = follower } }
        let startSeq = try await storage.lastSequence()
        if storage.shared { await engine.setForeignDelay(Millis(300)) }

        let alarmTargets = config.alarmTargets.compactMap { config.targets[$0] }
        let watchdog = Watchdog(
            engine: engine, store: store, client: client, worker: worker, clock: clock,
            deadlineSlack: config.watchdogDeadlineSlack, outboxSlack: config.watchdogOutboxSlack,
            logger: Logger(label: "vigil.watchdog"), databaseNow: storage.databaseNow
        ) { reason, raised in
            // The alarm goes out first, straight through libcurl: the store may be what failed.
            defer {
                let event = NewEvent(
                    .systemAlarm, at: clock.now(), ["raised": .bool(raised), "reason": .string(reason)])
                Task {
                    _ = try? await store.commit(
                        CommitBatch(
                            session: nil, expectedVersion: nil, sessionID: nil, events: [event], outbox: [],
                            outboxUpdates: []))
                }
            }
            guard raised else { return }
            for target in alarmTargets {
                let (id, result) =
                    (try? await OutboxWorker.ping(
                        target, client: client, at: clock.now(), type: .systemAlarm,
                        data: ["raised": true, "reason": .string(reason)])) ?? (
                        "", HTTPResult(status: 0, curlCode: -1, error: "render failed", headers: [:], body: [])
                    )
                logger.warning(
                    "system alarm sent",
                    metadata: ["target": "\(target.name)", "webhook_id": "\(id)", "status": "\(result.status)"])
            }
        }
        await MassLapseAlarm.install(
            engine: engine, store: store, client: client, clock: clock, config: config,
            logger: Logger(label: "vigil.mass-lapse"))
        let consoleWatch = ConsoleWatch(
            engine: engine, store: store, hub: hub, auth: TokenAuthenticator(config.tokens), alarmTargets: alarmTargets,
            client: client, clock: clock, after: config.unattendedAfter, registry: registry,
            logger: Logger(label: "vigil.console"))
        let serving = Atomic<Bool>(false)
        let stopping = Atomic<Bool>(false)
        let readiness: @Sendable () async -> Readiness = {
            var checks = watchdog.report.checks
            checks["http"] = serving.load(ordering: .relaxed) ? "ok" : "starting"
            let ok = serving.load(ordering: .relaxed) && watchdog.report.ok
            return Readiness(ready: ok, checks: checks)
        }
        let sms = config.sms.map { InboundSMS(authToken: $0.authToken, publicURL: config.publicURL ?? "") }
        var env = APIEnvironment(
            engine: engine, store: store, hub: hub, auth: TokenAuthenticator(config.tokens),
            publicURL: config.publicURL,
            assetsDirectory: assetsDirectory, readiness: readiness,
            metrics: {
                let now = clock.now()
                let oldestDeadline = await engine.oldestPastDeadline()
                let oldestPending = try? await store.oldestPendingNotification()
                metrics.update(
                    RuntimeMetrics.Levels(
                        ready: await readiness().ready, watchdogOK: watchdog.isContent,
                        sessions: await engine.openSessions().map(\.state),
                        schedulerPending: scheduler.stats().pending, lateness: scheduler.drainLateness(),
                        deadlineOverdue: oldestDeadline.map { now - $0 }, sseClients: hub.subscriberCount,
                        inFlight: worker.sending, outboxPending: try? await store.pendingNotificationCount(),
                        outboxOverdue: oldestPending.map { now - $0 }, clockSkew: clock.wallSkew()))
                return metrics.emitText() + InboundSMS.metrics(sms)
            }, logger: Logger(label: "vigil.http"), tickets: StreamTickets(secret: secret))
        env.sms = sms
        let app = Application(
            router: VigilAPI.router(env),
            // A connection that sends nothing for 30 s while no response is being written is closed: slow or stalled
            // clients (a header trickled byte by byte) cannot hold connections; event streams are responses and stay.
            server: .http1(configuration: .init(idleTimeout: .seconds(30))),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "Vigil"),
            onServerRunning: { channel in
                serving.store(true, ordering: .relaxed)
                let address = channel.localAddress.map { "\($0)" } ?? "\(config.host):\(config.port)"
                logger.notice("serving", metadata: ["address": "\(address)"])
                var banner = "Vigil is serving on http://\(config.host):\(channel.localAddress?.port ?? config.port)/\n"
                if let token = config.generatedToken {
                    let dir = (config.sqlitePath as NSString).deletingLastPathComponent
                    banner += "Operator token (also in \(dir)/operator.token): \(token)\n"
                }
                writeStdout(banner)
            },
            logger: Logger(label: "vigil.http"))

        var services: [any Service] = [
            TaskService(name: "delivery") { await worker.run() },
            LoopService(name: "sweep", interval: .milliseconds(config.sweepInterval.value)) {
                let r = await engine.sweep()
                if r.errors > 0 {
                    logger.error("sweep could not fire some sessions", metadata: ["errors": "\(r.errors)"])
                }
            },
            LoopService(name: "watchdog", interval: .seconds(1)) { await watchdog.check() },
            LoopService(name: "keepalive", interval: .seconds(15)) { hub.tick() },
            LoopService(name: "console-watch", interval: .seconds(1)) { await consoleWatch.check() },
            LoopService(name: "retention", interval: .seconds(3600)) {
                let cutoff = clock.now() - Millis.seconds(Int64(config.retentionDays) * 86_400)
                if let n = try? await store.purgeEnded(before: cutoff), n > 0 {
                    logger.notice("purged personal data of ended sessions", metadata: ["sessions": "\(n)"])
                }
            },
        ]
        if let url = config.heartbeatURL {
            services.append(
                LoopService(name: "heartbeat", interval: .milliseconds(config.heartbeatInterval.value)) {
                    guard watchdog.isContent, !stopping.load(ordering: .relaxed) else { return }
                    let r = await client.perform(HTTPRequestSpec(url: url, method: "GET", timeoutMillis: 10_000))
                    if !(200..<300).contains(r.status) {
                        logger.warning(
                            "heartbeat not accepted", metadata: ["status": "\(r.status)", "error": "\(r.error ?? "")"])
                    }
                })
        }
        if storage.shared { services.append(TaskService(name: "events") { await follower.run(after: startSeq) }) }
        services.append(app)
        // Last in the list, so first to hear of a graceful shutdown: the heartbeat stops at once (the outside
        // watcher should notice that this instance is going), and every event stream ends, so that open consoles
        // do not hold the HTTP server's shutdown until its timeout.
        services.append(
            ShutdownHook {
                stopping.store(true, ordering: .relaxed)
                serving.store(false, ordering: .relaxed)
                hub.finishAll()
                logger.notice("stopping: heartbeat stopped, event streams closed")
            })
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        client.shutdown()
    }
}

/// Forwards engine news to the delivery worker.
final class RuntimeObserver: EngineObserver {
    let worker = Mutex<OutboxWorker?>(nil)
    func committed(_ events: [StoredEvent]) {}
    func outboxChanged() { worker.withLock { $0 }?.wake() }
}

/// A metric name under the `vigil` namespace.
func metric(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(namespace: "vigil", metricName: name, unitName: unit, helpText: help)
}
