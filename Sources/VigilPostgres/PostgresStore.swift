import Foundation
import Logging
import PostgresNIO
import Synchronization
import VigilCore

/// The PostgreSQL `SessionStore`, for several `vigil serve` instances sharing one database: an append-only event
/// log numbered gap-free in commit order, one snapshot row per session (compare-and-set on its version), the
/// outbox with leased claims, and a commit wake-up over `LISTEN/NOTIFY`.
///
/// Run it (`run()`, e.g. in a `ServiceGroup`), then `prepare()` it (migrations and the encryption key check) before
/// any other call; `withStore` does both. Every call has a deadline: past it the call throws `unavailable` and
/// the connection it used is closed.
public final class PostgresStore: SessionStore, Sendable {
    /// The configuration it was made with.
    public let configuration: PostgresStoreConfiguration
    /// The pool in use and the server it connects to; with several hosts, replaced when another becomes primary.
    let pool: Mutex<(client: PostgresClient, endpoint: PostgresEndpoint)>
    /// With several hosts: finished once a primary was found, and what the last search heard from each host.
    let primaryFound = AsyncStream<Void>.makeStream()
    let lastSearch = Mutex<[String]>([])
    let sealer: any DataSealer
    let keyID: String
    let logger: Logger
    /// Queries are never logged: their binds carry ids, and a mistake could put more there.
    let quiet = Logger(label: "vigil.postgres.quiet", factory: { _ in SwiftLogNoOpLogHandler() })
    let listener = CommitListener()
    let writes = Mutex(PendingWrites())
    let wakeups = Mutex(WakeupSubscribers())
    /// Finished by `prepare()`: the listener starts once the tables it reads exist.
    let prepared = AsyncStream<Void>.makeStream()
    let running = Atomic<Bool>(false)

    /// The fixed text whose sealed form is the key check value.
    static let keyCheckPlaintext = Array("vigil encryption key check v1".utf8)

    /// Creates a store; opens nothing until `run()`. `keyID` names the key in clear beside its check value (a
    /// fingerprint, never the key); `sealer` seals snapshots, event data and webhook bodies.
    public init(
        configuration: PostgresStoreConfiguration, sealer: any DataSealer, keyID: String,
        logger: Logger = Logger(label: "vigil.postgres")
    ) throws {
        guard !keyID.isEmpty, keyID.utf8.count <= 200 else {
            throw VigilError.invalid("the encryption key id must be 1 to 200 bytes")
        }
        self.configuration = configuration
        self.sealer = sealer
        self.keyID = keyID
        self.logger = logger
        // One host: `host` and `port` as set (a test may point them elsewhere after parsing); several: the first.
        let first =
            configuration.endpoints.count > 1
            ? configuration.endpoints[0] : PostgresEndpoint(host: configuration.host, port: configuration.port)
        let client = PostgresClient(
            configuration: try configuration.at(first).clientConfiguration(), backgroundLogger: logger)
        self.pool = Mutex((client: client, endpoint: first))
    }

    /// Runs the connection pool and the listening connection until the task is cancelled (or, in a
    /// `ServiceGroup`, shut down gracefully: the pool ends then, and the listener with it). Call once.
    public func run() async throws {
        guard !running.exchange(true, ordering: .relaxed) else {
            throw VigilError(.internalError, "a PostgresStore runs once")
        }
        await withTaskGroup(of: Void.self) { group in
            if configuration.endpoints.count > 1 {
                group.addTask { await self.followPrimary() }
            } else {
                let client = self.client
                group.addTask { await client.run() }
            }
            if configuration.listens { group.addTask { await self.listen() } }
            // The listener only ends when cancelled: the first child to end is the pool.
            _ = await group.next()
            group.cancelAll()
        }
        finishWakeups()
    }

    /// Runs a store, prepares it, calls `body` with it, and stops it.
    public static func withStore<T: Sendable>(
        configuration: PostgresStoreConfiguration, sealer: any DataSealer, keyID: String,
        logger: Logger = Logger(label: "vigil.postgres"), _ body: (PostgresStore) async throws -> T
    ) async throws -> T {
        let store = try PostgresStore(configuration: configuration, sealer: sealer, keyID: keyID, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            do {
                try await store.prepare()
                let result = try await body(store)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// Calls `f` with the events of every commit made through this instance, in `seq` order, before the committers
    /// are answered. Other instances' commits never call it: a stream of the whole cluster reads `events(after:)`
    /// on each of `eventWakeups()`.
    public func onCommit(_ f: @escaping @Sendable ([StoredEvent]) -> Void) { listener.set(f) }

    // MARK: Start

    /// Migrates the schema under a transaction-scoped advisory lock (several instances may start at once), then
    /// checks the encryption key: the first start stores a check value, every later one must open it.
    public func prepare() async throws {
        if configuration.endpoints.count > 1 { try await waitForPrimary() } else { try await probe() }
        let check = Data(try sealer.seal(Self.keyCheckPlaintext))
        let keyID = self.keyID
        let sealer = self.sealer
        let quiet = self.quiet
        let timeoutMillis = String(PostgresStoreConfiguration.millis(configuration.migrationTimeout))
        let applied = try await transaction("migrate", timeout: configuration.migrationTimeout) { conn in
            _ = try await conn.query(
                "SELECT set_config('statement_timeout', \(timeoutMillis), true)", logger: quiet
            ).collect()
            _ = try await conn.query(
                "SELECT pg_advisory_xact_lock(\(PostgresSchema.migrationLockKey))", logger: quiet
            ).collect()
            _ = try await conn.query(PostgresQuery(unsafeSQL: PostgresSchema.bootstrap), logger: quiet).collect()
            var current = 0
            for try await v in try await conn.query(
                "SELECT coalesce(max(version), 0)::bigint FROM schema_version", logger: quiet
            ).decode(Int64.self) {
                current = Int(clamping: v)
            }
            let known = PostgresSchema.migrations.count
            guard current <= known else {
                throw VigilError.unavailable(
                    "the database's schema is at version \(current), newer than this Vigil's \(known): upgrade Vigil")
            }
            var applied: [Int] = []
            if current < known {
                for version in (current + 1)...known {
                    for statement in PostgresSchema.migrations[version - 1] {
                        _ = try await conn.query(PostgresQuery(unsafeSQL: statement), logger: quiet).collect()
                    }
                    _ = try await conn.query(
                        "INSERT INTO schema_version (version) VALUES (\(version))", logger: quiet
                    ).collect()
                    applied.append(version)
                }
            }
            var stored: (String, Data)?
            for try await (id, value) in try await conn.query(
                "SELECT key_id, check_value FROM encryption_key", logger: quiet
            ).decode((String, Data).self) {
                stored = (id, value)
            }
            if let (storedID, value) = stored {
                let opened = try? sealer.open(Array(value))
                guard opened == Self.keyCheckPlaintext else {
                    throw VigilError.invalid(
                        "the encryption key does not match the database's (stored key id \(storedID), this "
                            + "instance's \(keyID)): every instance must be given the same key; refusing to start")
                }
            } else {
                _ = try await conn.query(
                    "INSERT INTO encryption_key (key_id, check_value) VALUES (\(keyID), \(check))", logger: quiet
                ).collect()
            }
            // Events written before the chain existed are chained now, with the key just checked.
            _ = try await Self.chainUnchained(conn, sealer: sealer, logger: quiet)
            return applied
        }
        prepared.continuation.finish()
        if !applied.isEmpty {
            logger.notice("migrated the PostgreSQL schema", metadata: ["versions": "\(applied)"])
        }
    }

    /// Opens one connection of its own and closes it: a wrong password, a certificate that does not verify or a
    /// refused port is reported at once and by name, where the pool would keep retrying until the deadline.
    func probe() async throws {
        let config = try current.connectionConfiguration(application: "vigil")
        let quiet = self.quiet
        let slot = ConnectionSlot()
        defer { slot.close() }
        do {
            _ = try await Deadline.run(
                configuration.connectTimeout + configuration.callTimeout, what: "connect", onTimeout: { slot.close() }
            ) {
                let c = try await PostgresConnection.connect(configuration: config, id: 0, logger: quiet)
                slot.set(c)
                return c.id
            }
        } catch let p as PSQLError where p.serverInfo == nil {
            // No answer from the server itself: name what failed underneath (refused, TLS), never any data.
            let cause = p.underlying.map { String(describing: $0).prefix(300) } ?? "\(p.code)"
            throw VigilError.unavailable("cannot connect to PostgreSQL: \(cause)")
        } catch {
            throw Self.map(error)
        }
    }
}
