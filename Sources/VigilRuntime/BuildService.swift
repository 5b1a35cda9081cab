import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import VigilCore
import VigilDelivery
import VigilHTTP

/// The whole service, built and ready to run: what `vigil serve` runs, and what a test boots on an in-memory store,
/// a manual clock and a recording transport.
struct VigilService: Sendable {
    /// Every part as one group, run until SIGTERM or SIGINT (with `handleSignals`), a graceful shutdown triggered
    /// on it, or the cancellation of the task that runs it.
    let group: ServiceGroup
    /// The session engine.
    let engine: SessionEngine
    /// The HTTP server's port, once it listens.
    let port: @Sendable () -> Int?
    /// Reads the configuration file again, as `SIGHUP` does.
    var reloader: ConfigReloader? = nil
}

extension VigilServer {
    /// Builds every part of the service over a store, a time and a transport, and recovers the open sessions.
    ///
    /// The parts meet through streams, not through references set after the fact: due deadlines flow from the timer
    /// (`time.due`) into the deadline service; outbox wake-ups from the engine's observer into the delivery worker;
    /// commits into the console hub and metrics (or, with several instances, into the event follower). Every
    /// long-running part is a service of the one group, the transport included (stopped last).
    static func buildService(
        config: VigilConfig, storage: Storage, time: ServiceTime, transport: any WebhookTransport,
        stopTransport: @escaping @Sendable () -> Void = {}, secret: [UInt8], assetsDirectory: String?, logger: Logger,
        handleSignals: Bool = true
    ) async throws -> VigilService {
        let store = storage.store
        let clock = time.clock
        let registry = PrometheusCollectorRegistry()
        let hub = EventHub()
        let metrics = RuntimeMetrics(registry: registry, targets: Array(config.targets.keys))
        let outboxSignal = WakeSignal()
        let engine = SessionEngine(
            store: store, scheduler: time.scheduler, clock: clock, policies: config.policies,
            observer: OutboxObserver(signal: outboxSignal))
        await engine.setRouting(config.routes, targets: Set(config.targets.keys))
        let follower = EventFollower(
            storage: storage, hub: hub, engine: engine, metrics: metrics, logger: Logger(label: "vigil.events"))
        let canaryBox = Mutex<CanaryRunner?>(nil)
        store.onCommit { events in
            canaryBox.withLock { $0 }?.observe(events)
            if storage.shared {
                // Every instance's events reach the consoles from the log, in order: this commit only wakes it.
                follower.committedHere(events)
            } else {
                hub.publish(events)
                metrics.record(events)
            }
        }
        let started = ContinuousClock.now
        let recovered = try await engine.recover()
        let elapsed = ContinuousClock.now - started
        logger.notice(
            "recovered open sessions",
            metadata: [
                "sessions": "\(recovered)",
                "ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
            ])
        await normalizeStoredNumbers(engine, country: config.defaultCountry, logger: logger)
        let orphans = try await store.releaseOrphanedClaims(at: clock.now())
        if orphans > 0 {
            logger.warning(
                "resending notifications that were in flight when the last process stopped",
                metadata: ["notifications": "\(orphans)"])
        }
        let worker = OutboxWorker(
            store: store, engine: engine, client: transport, targets: config.targets, clock: clock,
            logger: Logger(label: "vigil.delivery"), claim: storage.claimDue, hotline: config.hotline,
            signal: outboxSignal, onAttempt: { metrics.record($0) })
        let startSeq = try await storage.lastSequence()
        if storage.shared { await engine.setForeignDelay(Millis(300)) }

        // One set of tokens for every part that reads them, replaced in place by a reload.
        let auth = TokenAuthenticator(config.tokens)
        let reloader = ConfigReloader(
            config: config, engine: engine, worker: worker, auth: auth, hub: hub, store: store,
            logger: Logger(label: "vigil.config"))
        // An alarm target's URL, secret or TLS changed by a reload takes the next alarm (`current`).
        let direct = DirectAlarm(
            transport: transport, clock: clock, logger: Logger(label: "vigil.alarm"), hotline: config.hotline,
            onAttempt: { metrics.record($0) }, onGiveUp: { metrics.alarmGaveUp($0) },
            current: { name in reloader.current.withLock { $0.targets[name] } })
        let alarms = SystemAlarms(
            store: store, alarm: direct, targets: config.alarmTargets.compactMap { config.targets[$0] })
        let watchdog = Watchdog(
            engine: engine, store: store, client: transport, worker: worker, clock: clock, wallSkew: time.wallSkew,
            deadlineSlack: config.watchdogDeadlineSlack, outboxSlack: config.watchdogOutboxSlack,
            logger: Logger(label: "vigil.watchdog"), databaseNow: storage.databaseNow,
            onAlarm: { await alarms.watchdog(reason: $0, raised: $1) })
        let duties = ClusterDuties(cluster: storage.cluster, logger: Logger(label: "vigil.cluster"))
        let clusterMassLapse = await MassLapseAlarm.install(
            engine: engine, store: store, alarm: direct, config: config, cluster: storage.cluster, duties: duties,
            clock: clock, logger: Logger(label: "vigil.mass-lapse"))
        // Before any deadline is decided: what fell due while no process ran is counted together, by due times.
        let outage = OutageWatch(engine: engine, store: store, clock: clock, logger: Logger(label: "vigil.outage"))
        await outage.boot()
        let canary = config.canary.map {
            CanaryRunner(
                engine: engine, store: store, alarm: direct, alarmTargets: alarms.targets, settings: $0, clock: clock,
                registry: registry, logger: Logger(label: "vigil.canary"),
                // With several instances, one runs each round: the holder of the canary lease, renewed each round
                // and left to lapse after one and a half rounds if its instance dies.
                duty: { [every = $0.every] in
                    await duties.hold("canary", for: Millis(every.value + every.value / 2)) != nil
                })
        }
        canaryBox.withLock { $0 = canary }
        await canary?.boot()
        let consoleWatch = ConsoleWatch(
            engine: engine, store: store, hub: hub, auth: auth,
            alarmTargets: alarms.targets, alarm: direct, clock: clock, after: config.unattendedAfter,
            registry: registry, logger: Logger(label: "vigil.console"), cluster: storage.cluster, duties: duties)
        let quarantine = (store as? any QuarantineStore).map {
            QuarantineWatch(
                store: $0, sessions: store, alarm: direct, clock: clock, targets: alarms.targets,
                logger: Logger(label: "vigil.quarantine"))
        }
        let serving = Atomic<Bool>(false)
        let stopping = Atomic<Bool>(false)
        let boundPort = Atomic<Int>(-1)
        let readiness: @Sendable () async -> Readiness = {
            let report = watchdog.report
            var checks = report.checks
            checks["http"] = serving.load(ordering: .relaxed) ? "ok" : "starting"
            // Listed, not failed: the rest of the service works, and its alarm stands meanwhile.
            if let quarantine { checks["unreadable"] = quarantine.readinessCheck }
            checks["config_sha256"] = reloader.sha256
            let ok = serving.load(ordering: .relaxed) && report.ok
            return Readiness(ready: ok, checks: checks)
        }
        let sms = config.sms.map { InboundSMS(authToken: $0.authToken, publicURL: config.publicURL ?? "") }
        let scrape = MetricsScrape(
            metrics: metrics, engine: engine, store: store, hub: hub, worker: worker, watchdog: watchdog, time: time,
            readiness: readiness, sms: sms)
        var env = APIEnvironment(
            engine: engine, store: store, hub: hub, auth: auth,
            publicURL: config.publicURL, assetsDirectory: assetsDirectory, readiness: readiness,
            metrics: { await scrape.text() }, logger: Logger(label: "vigil.http"),
            tickets: StreamTickets(secret: secret))
        env.sms = sms
        let textTokens =
            (config.sms.map { [$0.authToken] } ?? []) + config.targets.values.compactMap(\.twilio?.authToken)
        if !textTokens.isEmpty, let url = config.publicURL {
            env.smsStatus = InboundSMSStatus(authTokens: Array(Set(textTokens)).sorted(), publicURL: url)
        }
        env.defaultCountry = config.defaultCountry
        env.reload = { await reloader.reload(by: $0) }
        if handleSignals { HangupGuard.onHangup { Task { _ = await reloader.reload(by: "SIGHUP") } } }
        if let canary { env.canary = { @Sendable in canary.json() } }
        env.person = config.person
        env.serviceLevelTargets = config.serviceLevelTargets
        let app = Application(
            router: VigilAPI.router(env),
            // A connection that sends nothing for 30 s while no response is being written is closed: slow or stalled
            // clients (a header trickled byte by byte) cannot hold connections; event streams are responses and stay.
            server: .http1(configuration: .init(idleTimeout: .seconds(30))),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "Vigil"),
            onServerRunning: { channel in
                serving.store(true, ordering: .relaxed)
                let port = channel.localAddress?.port ?? config.port
                boundPort.store(port, ordering: .relaxed)
                logger.notice("serving", metadata: ["address": "\(config.host):\(port)"])
                var banner = "Vigil is serving on http://\(config.host):\(port)/\n"
                if let token = config.generatedToken {
                    let dir = (config.sqlitePath as NSString).deletingLastPathComponent
                    banner += "Operator token (also in \(dir)/operator.token): \(token)\n"
                }
                writeStdout(banner)
            },
            logger: Logger(label: "vigil.http"))

        // Services stop in the reverse of this order: the transport first in the list, so that it closes last,
        // after every part that sends through it.
        var services: [any Service] = [
            ShutdownHook { stopTransport() },
            TaskService(name: "deadlines") {
                // Every deadline the timer reports due together is decided in one engine turn and one group commit;
                // batches that arrive while one is being written are written beside it.
                await withDiscardingTaskGroup { group in
                    for await ids in time.due {
                        group.addTask {
                            let r = await engine.fire(ids)
                            if r.errors > 0 {
                                logger.error(
                                    "deadlines could not be recorded; the sweep will retry",
                                    metadata: ["sessions": "\(r.errors)"])
                            }
                        }
                    }
                }
            },
            TaskService(name: "delivery") { await worker.run() },
            LoopService(name: "sweep", interval: .milliseconds(config.sweepInterval.value)) {
                let r = await engine.sweep()
                if r.errors > 0 {
                    logger.error("sweep could not fire some sessions", metadata: ["errors": "\(r.errors)"])
                }
            },
            LoopService(name: "watchdog", interval: .seconds(1)) { await watchdog.check() },
            LoopService(name: "outage", interval: .seconds(1)) { await outage.tick() },
            LoopService(name: "follow-ups", interval: .seconds(config.followUpCheckInterval)) {
                await engine.remindDueFollowUps()
            },
            LoopService(name: "keepalive", interval: .seconds(15)) { hub.tick() },
            LoopService(name: "console-watch", interval: .seconds(1)) { await consoleWatch.check() },
            LoopService(name: "retention", interval: .seconds(3600)) {
                // One instance purges: the lease outlasts two rounds, so the holder keeps it while it lives.
                guard await duties.hold("retention", for: .seconds(2 * 3600 + 60)) != nil else { return }
                let cutoff = clock.now() - Millis.seconds(Int64(config.retentionDays) * 86_400)
                if let n = try? await store.purgeEnded(before: cutoff) {
                    logger.notice("retention purge ran", metadata: ["sessions": "\(n)"])
                }
            },
        ]
        if let clusterMassLapse {
            services.append(LoopService(name: "mass-lapse", interval: .seconds(1)) { await clusterMassLapse.round() })
        }
        if let canary {
            services.append(LoopService(name: "canary", interval: .milliseconds(250)) { await canary.tick() })
        }
        if let quarantine {
            services.append(LoopService(name: "quarantine", interval: .seconds(2)) { await quarantine.check() })
        }
        if let keys = store as? any IdempotencyStore {
            // Idempotency keys and fresh links live a day, the recorded answers (which may hold personal data) with
            // them; an expired key is never served even before this reaches it.
            services.append(
                LoopService(name: "idempotency-sweep", interval: .seconds(300)) {
                    if let n = try? await keys.purgeIdempotency(at: clock.now()), n > 0 {
                        logger.info("forgot expired idempotency keys and links", metadata: ["rows": "\(n)"])
                    }
                })
        }
        if let url = config.heartbeatURL {
            services.append(
                LoopService(name: "heartbeat", interval: .milliseconds(config.heartbeatInterval.value)) {
                    guard watchdog.isContent, !stopping.load(ordering: .relaxed) else { return }
                    let r = await transport.perform(HTTPRequestSpec(url: url, method: "GET", timeoutMillis: 10_000))
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
                if handleSignals { HangupGuard.onHangup(nil) }
                hub.finishAll()
                logger.notice("stopping: heartbeat stopped, event streams closed")
            })
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
                logger: logger))
        return VigilService(
            group: group, engine: engine,
            port: {
                let p = boundPort.load(ordering: .relaxed)
                return p >= 0 ? p : nil
            }, reloader: reloader)
    }
}

extension VigilServer {
    /// Open sessions whose callback number was stored as typed (before numbers were read into E.164 at intake) get
    /// it in E.164, so that a text from the number finds them; a number that cannot be read is left as it is and
    /// logged by session, never the number itself.
    static func normalizeStoredNumbers(_ engine: SessionEngine, country: PhoneNumber.Country?, logger: Logger) async {
        let r = await engine.normalizeCallbackNumbers { PhoneNumber.e164($0, defaultCountry: country) }
        if !r.normalized.isEmpty {
            logger.notice("stored callback numbers rewritten in E.164", metadata: ["sessions": "\(r.normalized.count)"])
        }
        for id in r.unreadable {
            // Texts from it will not match: default_country reads national numbers.
            logger.warning(
                "a stored callback number cannot be read as a phone number; left as it is",
                metadata: ["session": "\(id)", "hint": "set default_country for numbers without a country code"])
        }
        for id in r.failed {
            logger.warning(
                "a stored callback number could not be rewritten in E.164 now; it will be at the next start",
                metadata: ["session": "\(id)"])
        }
    }
}

/// Tells the delivery worker that the outbox changed. Committed events reach the consoles from the store's commit
/// hook instead (`SessionStore.onCommit`), which also sees the commits made outside the engine (alarms, reveals).
struct OutboxObserver: EngineObserver {
    let signal: WakeSignal
    func committed(_ events: [StoredEvent]) {}
    func outboxChanged() { signal.wake() }
}
