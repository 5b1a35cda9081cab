import Foundation
import Logging
import VigilCore
import VigilPostgres

extension VigilServer {
    /// Serves on PostgreSQL: the store runs beside the service, migrations and the key check happen before anything
    /// else, and the storage hooks make this one of several instances.
    static func runPostgres(
        config: VigilConfig, settings: PostgresSettings, assetsDirectory: String?, logger: Logger
    ) async throws {
        let environment = ProcessInfo.processInfo.environment
        let sealer = try KeyRing.load(config, environment: environment)
        let configuration = try PostgresStoreConfiguration(
            url: settings.url, password: settings.password,
            tls: settings.caFile.map { .verifyFull(caFile: $0) } ?? .disable)
        let store = try PostgresStore(
            configuration: configuration, sealer: sealer, keyID: KeyRing.name(of: sealer.primaryID),
            logger: Logger(label: "vigil.postgres"))
        let owner = settings.instanceID ?? "\(ProcessInfo.processInfo.hostName):\(config.port)"
        // A later start of the same instance has a higher incarnation, so it takes its own earlier claims back.
        let started = Timestamp(millis: Int64(Date().timeIntervalSince1970 * 1000))
        let incarnation = started.millis
        let slowest = config.targets.values.map(\.timeout).max() ?? .seconds(10)
        let lease = slowest + .seconds(5)
        var shared = Storage(
            store: store, shared: true, wakeups: { store.eventWakeups() },
            claimDue: { now, limit in
                try await store.claimDueNotifications(
                    owner: owner, incarnation: incarnation, at: now, lease: lease, limit: limit)
            },
            databaseNow: { try await store.databaseNow() }, lastSequence: { try await store.lastSequence() })
        shared.cluster = ClusterStore(
            lease: { duty, duration in
                try await store.acquireLease(duty, owner: owner, incarnation: incarnation, duration: duration).map {
                    (epoch: $0.epoch, remaining: $0.remaining)
                }
            },
            lapses: { after, since, limit in
                try await store.lapses(after: after, since: since, limit: limit).map {
                    (seq: $0.seq, session: $0.session, at: $0.at)
                }
            },
            dutyState: { try await store.dutyState($0) },
            saveDutyState: { duty, state, epoch in
                try await store.saveDutyState(duty, state, owner: owner, incarnation: incarnation, epoch: epoch)
            },
            reportConsoles: { try await store.reportConsoles(instance: owner, consoles: $0, fresh: ConsoleWatch.fresh) }
        )
        let storage = shared
        logger.notice("storage: PostgreSQL", metadata: ["instance": "\(owner)", "incarnation": "\(incarnation)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            do {
                try await store.prepare()
                let sealing = try await KeyWatch.adopt(store: store, ring: sealer)
                group.addTask {
                    await KeyWatch(store: store, ring: sealer, instance: owner, logger: logger).run()
                }
                let orphans = try await store.resendOrphans(owner: owner, incarnation: incarnation, at: started)
                if orphans > 0 {
                    logger.warning(
                        "resending notifications this instance left in flight when it stopped",
                        metadata: ["notifications": "\(orphans)"])
                }
                try await run(
                    config: config, storage: storage,
                    secret: sealer.derivedSecret("vigil stream tickets", key: sealing) ?? [],
                    assetsDirectory: assetsDirectory, logger: logger)
                group.cancelAll()
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}
