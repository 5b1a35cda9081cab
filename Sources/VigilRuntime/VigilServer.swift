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
        let hangup = HangupGuard.install(logger: logger)
        defer { withExtendedLifetime(hangup) {} }
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
        // Held exclusively for the whole run: a second instance on this file (both would send every webhook),
        // `vigil restore`, `vigil keys rotate` and `vigil migrate` refuse while it is held, naming this one.
        let holder = "vigil serve on \(config.host):\(config.port)"
        var lock: InstanceLock?
        if FileManager.default.isWritableFile(atPath: dataDir.isEmpty ? "." : dataDir) {
            lock = try InstanceLock.serving(database: config.sqlitePath, holder: holder)
        }
        let store: SQLiteStore
        do {
            // Opening the store first checks the data directory, before a key file is written into it.
            store = try SQLiteStore(path: config.sqlitePath, sealer: nil)
        }
        if lock == nil { lock = try InstanceLock.serving(database: config.sqlitePath, holder: holder) }
        let (sealer, created) = try AESGCMSealer.load(keyEnv: config.keyEnv, keyFile: keyFile, environment: environment)
        if created {
            logger.notice(
                "created a new encryption key; back it up apart from the database", metadata: ["file": "\(keyFile)"])
        }
        _ = store
        let sealed = try SQLiteStore(path: config.sqlitePath, sealer: sealer)
        let storage = Storage(
            store: sealed, shared: false, wakeups: nil, claimDue: nil,
            databaseNow: nil, lastSequence: { 0 })
        try await run(
            config: config, storage: storage, secret: sealer.derivedSecret("vigil stream tickets"),
            assetsDirectory: assetsDirectory, logger: logger)
        withExtendedLifetime(lock) {}
    }

    /// Serves on a store until SIGTERM or SIGINT: live time, libcurl, and every part `buildService` makes.
    static func run(
        config: VigilConfig, storage: Storage, secret: [UInt8], assetsDirectory: String?, logger: Logger
    ) async throws {
        let client = CurlClient()
        let service = try await buildService(
            config: config, storage: storage, time: .live(), transport: client, stopTransport: { client.shutdown() },
            secret: secret, assetsDirectory: assetsDirectory, logger: logger)
        try await service.group.run()
    }
}

/// A metric name under the `vigil` namespace.
func metric(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(namespace: "vigil", metricName: name, unitName: unit, helpText: help)
}
