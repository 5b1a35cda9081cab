import Foundation
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing
import VigilCore

@testable import VigilPostgres

/// Starting: the key check, migrations, TLS, credentials, connection timeouts, shutdown.
extension PostgresStoreTests {
    @Test("a store given a different encryption key refuses to start")
    func keyCheck() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in _ = try await Self.insert(store, Self.session(8)) }
            do {
                try await Self.withStore(cluster, db, sealer: TestSealer(key: 0x77)) { _ in }
                Issue.record("a store with another key started")
            } catch let e as VigilError {
                #expect(e.code == .invalid)
                #expect(e.message.contains("encryption key does not match"))
            }
            // The right key still starts and reads.
            let count = try await Self.withStore(cluster, db) { store in try await store.openSessions().count }
            #expect(count == 1)
            let (_, out) = try await cluster.psql(db, "SELECT key_id FROM encryption_key")
            #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "test-key-60")
        }
    }

    @Test("several instances migrating one database at once apply each migration once")
    func concurrentMigrations() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await Self.withStore(cluster, db) { store in try await store.ping() } }
                }
                try await group.waitForAll()
            }
            let (_, out) = try await cluster.psql(db, "SELECT count(*), max(version) FROM schema_version")
            // Each migration once: as many rows as the highest version (2 since response plans).
            let parts = out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|")
            #expect(parts.count == 2 && parts.first == parts.last && (Int(parts[0]) ?? 0) >= 2, "\(out)")
            let (_, keys) = try await cluster.psql(db, "SELECT count(*) FROM encryption_key")
            #expect(keys.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        }
    }

    @Test("TLS verify-full: the right CA and host name connect; another CA or another name is refused")
    func tlsVerifyFull() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            let dir = cluster.dir
            func openssl(_ args: [String]) async throws {
                try await PostgresCluster.run(["/usr/bin/openssl"] + args, asPostgres: false)
            }
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            for ca in ["ca", "other-ca"] {
                try await openssl(
                    ["req", "-x509"] + ec + [
                        "-keyout", "\(dir)/\(ca).key", "-out", "\(dir)/\(ca).pem", "-days", "2", "-subj", "/CN=\(ca)",
                    ])
            }
            try await openssl(
                ["req"] + ec + ["-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr", "-subj", "/CN=localhost"])
            try Data("subjectAltName=DNS:localhost\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/san.ext"))
            try await openssl([
                "x509", "-req", "-in", "\(dir)/server.csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key",
                "-CAcreateserial", "-out", "\(dir)/server.crt", "-days", "2", "-extfile", "\(dir)/san.ext",
            ])
            try PostgresCluster.chownToPostgres("\(dir)/server.key")
            chmod("\(dir)/server.key", 0o600)
            for sql in [
                "ALTER SYSTEM SET ssl_cert_file = '\(dir)/server.crt'",
                "ALTER SYSTEM SET ssl_key_file = '\(dir)/server.key'",
                "ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()",
            ] {
                let (status, out) = try await cluster.psql("postgres", sql)
                #expect(status == 0, "\(sql): \(out)")
            }
            try await Task.sleep(for: .milliseconds(300))

            func store(host: String, ca: String) -> PostgresStoreConfiguration {
                var c = cluster.configuration(database: db)
                c.host = host
                c.tls = .verifyFull(caFile: "\(dir)/\(ca).pem")
                c.callTimeout = .seconds(3)
                return c
            }
            let encrypted = try await PostgresStore.withStore(
                configuration: store(host: "localhost", ca: "ca"), sealer: Self.sealer, keyID: "k"
            ) { s in
                try await s.call("ssl") { conn in
                    var on = false
                    for try await v in try await conn.query(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: s.quiet
                    ).decode(Bool.self) {
                        on = v
                    }
                    return on
                }
            }
            #expect(encrypted)
            for (host, ca) in [("localhost", "other-ca"), ("127.0.0.1", "ca")] {
                let start = ContinuousClock.now
                do {
                    try await PostgresStore.withStore(
                        configuration: store(host: host, ca: ca), sealer: Self.sealer, keyID: "k"
                    ) { _ in }
                    Issue.record("\(host) with \(ca) connected")
                } catch let e as VigilError {
                    #expect(e.code == .unavailable)
                    #expect(e.message.hasPrefix("cannot connect to PostgreSQL"), "\(e.message)")
                }
                #expect(ContinuousClock.now - start < .seconds(3), "refused at once, not at the deadline")
            }
        }
    }

    @Test("a wrong password or a missing database is refused at start, at once and by name")
    func wrongLogin() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            for (password, database, words) in [
                ("wrong", db, "refused the login"), (PostgresCluster.password, "nosuchdb", "does not exist"),
            ] {
                var c = cluster.configuration(database: database)
                c.password = password
                let start = ContinuousClock.now
                do {
                    try await PostgresStore.withStore(configuration: c, sealer: Self.sealer, keyID: "k") { _ in }
                    Issue.record("a wrong login started")
                } catch let e as VigilError {
                    #expect(e.code == .unavailable)
                    #expect(e.message.contains(words), "\(e.message)")
                    #expect(!e.message.contains(PostgresCluster.password))
                }
                #expect(ContinuousClock.now - start < .seconds(3))
            }
        }
    }

    @Test("every connection carries the statement, idle-in-transaction and TCP user timeouts")
    func serverTimeouts() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(
                cluster, db,
                configure: {
                    $0.statementTimeout = .milliseconds(3500)
                    $0.idleInTransactionTimeout = .seconds(7)
                    $0.tcpUserTimeout = .seconds(9)
                }
            ) { store in
                let settings = try await store.call("settings") { conn in
                    var out: [String] = []
                    for name in ["statement_timeout", "idle_in_transaction_session_timeout", "tcp_user_timeout"] {
                        for try await v in try await conn.query(
                            "SELECT current_setting(\(name))", logger: store.quiet
                        ).decode(String.self) {
                            out.append(v)
                        }
                    }
                    return out
                }
                #expect(settings == ["3500ms", "7s", "9000"])  // tcp_user_timeout shows plain milliseconds
                // A statement that runs past statement_timeout is cancelled by the server: unavailable, not a hang.
                await #expect(throws: VigilError.unavailable("the database cancelled a statement that ran too long")) {
                    try await store.call("sleep") { conn in
                        _ = try await conn.query("SELECT pg_sleep(5)", logger: store.quiet).collect()
                    }
                }
            }
        }
    }

    @Test("a client that vanishes inside a transaction holding the event counter blocks commits only briefly")
    func vanishedClientInTransaction() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db, configure: { $0.idleInTransactionTimeout = .seconds(1) }) { store in
                _ = try await Self.insert(store, Self.session(30))
                // Another instance takes the counter's row lock and then goes silent, as behind a partition: its
                // connection stays open, its transaction idle.
                let config = try store.configuration.connectionConfiguration(application: "vigil")
                let stuck = try await PostgresConnection.connect(configuration: config, id: 99, logger: store.quiet)
                _ = try await stuck.query("BEGIN", logger: store.quiet).collect()
                _ = try await stuck.query("UPDATE event_seq SET last = last", logger: store.quiet).collect()
                let start = ContinuousClock.now
                let seq = try await Self.insert(store, Self.session(31)).map(\.seq)
                let waited = ContinuousClock.now - start
                #expect(seq == [2])
                #expect(waited >= .milliseconds(700) && waited < .seconds(3), "waited \(waited)")
                try? await stuck.close()
            }
        }
    }

    @Test("in a ServiceGroup, a graceful shutdown stops the store, listener included")
    func gracefulShutdown() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            let store = try PostgresStore(
                configuration: cluster.configuration(database: db), sealer: Self.sealer, keyID: "k")
            let services = ServiceGroup(
                configuration: ServiceGroupConfiguration(services: [store], logger: Logger(label: "test")))
            let runner = Task { try await services.run() }
            try await store.prepare()
            let wakeups = store.eventWakeups()
            #expect(try await Self.next(wakeups, atLeast: 0, within: .seconds(5)) == 0)
            let start = ContinuousClock.now
            await services.triggerGracefulShutdown()
            // Bounded: a store that ignored the shutdown must fail this test, not hang the suite.
            let stopped = await withTaskGroup(of: Bool.self) { race in
                race.addTask {
                    _ = try? await runner.value
                    return true
                }
                race.addTask {
                    try? await Task.sleep(for: .seconds(5))
                    return false
                }
                let first = await race.next() ?? false
                runner.cancel()
                race.cancelAll()
                return first
            }
            #expect(stopped, "the store kept running after a graceful shutdown")
            #expect(ContinuousClock.now - start < .seconds(2))
            var ended = true
            for await _ in wakeups { ended = false }
            #expect(ended, "the wake-up stream ends with the store")
        }
    }
}
