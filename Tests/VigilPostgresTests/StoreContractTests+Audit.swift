import Foundation
import Synchronization
import Testing
import VigilCore
import VigilPostgres
import VigilStore

/// The chained event log on both durable stores: written with every commit, checked by the verifier, and every
/// change a database owner can make directly (data rewritten, a row deleted, two rows swapped, with the
/// append-only triggers dropped or disabled as an owner can) named at its exact `seq`.
@Suite("the chained event log, on SQLite and on PostgreSQL")
struct AuditLogTests {
    typealias Kind = StoreContractTests.Kind
    typealias ChainedStore = any SessionStore & AuditLog
    static let t0 = StoreContractTests.t0

    /// One database, opened as often as a test asks, and changed behind the store's back with SQL.
    struct Database: Sendable {
        let open: @Sendable (@Sendable (ChainedStore) async throws -> Void) async throws -> Void
        let sql: @Sendable (String) async throws -> Void
    }

    static func with(_ kind: Kind, _ body: @Sendable (Database) async throws -> Void) async throws {
        switch kind {
        case .sqlite, .memory:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-audit-\(UUID())").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let path = dir + "/v.sqlite"
            try await body(
                Database(
                    open: { f in try await f(try SQLiteStore(path: path, sealer: TestSealer(key: 0x21))) },
                    sql: { sql in try Self.sqlite(path, sql) }))
        case .postgres:
            try await withCluster { cluster in
                let db = try await cluster.createDatabase()
                let configuration = cluster.configuration(database: db)
                try await body(
                    Database(
                        open: { f in
                            try await PostgresStore.withStore(
                                configuration: configuration, sealer: TestSealer(key: 0x21), keyID: "audit"
                            ) { store in try await f(store) }
                        },
                        sql: { sql in
                            let r = try await cluster.psql(db, sql)
                            if r.status != 0 { throw VigilError.invalid("psql: \(r.output)") }
                        }))
            }
        }
    }

    static func sqlite(_ path: String, _ sql: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        // The store's last writer may still hold the file for a moment: wait for it as SQLite's own clients do.
        p.arguments = ["-cmd", ".timeout 5000", path, sql]
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            let why = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw VigilError.invalid("sqlite3: \(why)")
        }
    }

    /// Six events: two sessions, a system alarm, a check-in with a note; seq 1…6.
    static func busy(_ store: ChainedStore) async throws {
        let a = StoreContractTests.session(1)
        let b = StoreContractTests.session(2)
        _ = try await StoreContractTests.start(store, a)
        let results = await store.commitAll([
            CommitBatch(
                session: b, expectedVersion: nil, sessionID: b.id, events: [NewEvent(.sessionStarted, at: t0)],
                outbox: [], outboxUpdates: []),
            CommitBatch(
                session: nil, expectedVersion: nil, sessionID: nil,
                events: [NewEvent(.systemAlarm, at: t0 + .seconds(1), ["reason": "a test", "raised": true])],
                outbox: [], outboxUpdates: []),
        ])
        for r in results { _ = try r.get() }
        var a2 = a
        a2.version = 2
        _ = try await store.commit(
            CommitBatch(
                session: a2, expectedVersion: 1, sessionID: a.id,
                events: [
                    NewEvent(.checkInReceived, at: t0 + .seconds(2), ["note": "all good", "ratio": .double(0.1)]),
                    NewEvent(.checkInReceived, at: t0 + .seconds(3), ["note": "still fine"]),
                ], outbox: [], outboxUpdates: []))
        var a3 = a2
        a3.version = 3
        a3.state = .ended
        a3.endedAt = t0 + .seconds(4)
        _ = try await store.commit(
            CommitBatch(
                session: a3, expectedVersion: 2, sessionID: a.id,
                events: [NewEvent(.sessionEnded, at: t0 + .seconds(4))],
                outbox: [], outboxUpdates: []))
    }

    static func verify(_ store: ChainedStore, now: Timestamp = t0 + .seconds(86_400)) async throws
        -> AuditVerifier.Outcome
    {
        var v = AuditVerifier(retention: .seconds(3600))
        var cursor: Int64 = 0
        while true {
            let page = try await store.auditRecords(after: cursor, to: nil, limit: 2)
            for r in page { v.feed(r) }
            guard let last = page.last else { break }
            cursor = last.seq
        }
        return v.finish(now: now)
    }

    @Test("every commit's events are chained in its transaction; the head is the last event", arguments: Kind.durable)
    func chainedOnCommit(kind: Kind) async throws {
        try await Self.with(kind) { db in
            try await db.open { store in
                #expect(try await store.auditHead() == AuditHead(seq: 0, hash: AuditChain.genesis, at: nil))
                try await Self.busy(store)
                let o = try await Self.verify(store)
                #expect(o.failure == nil)
                #expect(o.count == 6)
                let records = try await store.auditRecords(after: 0, to: nil, limit: 100)
                #expect(records.map(\.seq) == [1, 2, 3, 4, 5, 6])
                #expect(records[2].sessionID == nil && records[2].type == "system.alarm")
                let head = try await store.auditHead()
                #expect(head.seq == 6 && head.hash == records[5].hash && head.at == Self.t0 + .seconds(4))
                #expect(try await store.auditRecords(after: 2, to: 4, limit: 100).map(\.seq) == [3, 4])
            }
        }
    }

    /// How an owner tampers on each store: the SQL, and the seq `verify` must name.
    static func tampering(_ kind: Kind) -> [(String, String, Int64)] {
        let copyData = "UPDATE events SET data = (SELECT data FROM events WHERE seq = 5) WHERE seq = 4"
        switch kind {
        case .postgres:
            return [
                ("a rewritten data", copyData, 4),
                ("a deleted event", "ALTER TABLE events DISABLE TRIGGER USER; DELETE FROM events WHERE seq = 3", 3),
                (
                    "two events swapped",
                    "ALTER TABLE events DISABLE TRIGGER USER; UPDATE events SET seq = -3 WHERE seq = 3; "
                        + "UPDATE events SET seq = 3 WHERE seq = 4; UPDATE events SET seq = 4 WHERE seq = -3", 3
                ),
            ]
        default:
            return [
                ("a rewritten data", copyData, 4),
                ("a deleted event", "DROP TRIGGER events_append_only_delete; DELETE FROM events WHERE seq = 3", 3),
                (
                    "two events swapped",
                    "DROP TRIGGER events_append_only_update; DROP TRIGGER events_chain_fixed; "
                        + "UPDATE events SET seq = -3 WHERE seq = 3; UPDATE events SET seq = 3 WHERE seq = 4; "
                        + "UPDATE events SET seq = 4 WHERE seq = -3", 3
                ),
            ]
        }
    }

    @Test(
        "verify names the exact seq after a data is rewritten, an event deleted or two swapped", arguments: Kind.durable
    )
    func tamperingIsNamed(kind: Kind) async throws {
        for (what, sql, seq) in Self.tampering(kind) {
            try await Self.with(kind) { db in
                try await db.open { store in try await Self.busy(store) }
                try await db.sql(sql)
                try await db.open { store in
                    let f = try await Self.verify(store).failure
                    #expect(f?.seq == seq, "\(what): \(f.map { "\($0)" } ?? "follows")")
                }
            }
        }
    }

    @Test(
        "the retention purge keeps the chain whole; a purge inside the retention period is named",
        arguments: Kind.durable)
    func purgeKeepsTheChain(kind: Kind) async throws {
        try await Self.with(kind) { db in
            try await db.open { store in
                try await Self.busy(store)
                let before = try await store.auditHead()
                #expect(try await store.purgeEnded(before: Self.t0 + .seconds(3600)) == 1)
                #expect(try await store.auditHead() == before)
                let records = try await store.auditRecords(after: 0, to: nil, limit: 100)
                #expect(records[3].data == AuditChain.purgedData)
                let o = try await Self.verify(store)
                #expect(o.failure == nil)
                #expect(o.purged == 3)
                // The same log judged a minute after the session ended: purged too early.
                #expect(try await Self.verify(store, now: Self.t0 + .seconds(60)).failure?.seq == 4)
            }
        }
    }

    @Test("events written before the chain existed are chained when the store opens", arguments: Kind.durable)
    func existingEventsAreChained(kind: Kind) async throws {
        try await Self.with(kind) { db in
            let written = Mutex<AuditHead?>(nil)
            try await db.open { store in
                try await Self.busy(store)
                let head = try await store.auditHead()
                written.withLock { $0 = head }
            }
            let head = written.withLock { $0 }
            if kind == .postgres {
                try await db.sql(
                    "ALTER TABLE events DISABLE TRIGGER USER; UPDATE events SET hash = NULL, data_sha256 = NULL; "
                        + "UPDATE event_seq SET hash = decode(repeat('00', 32), 'hex')")
            } else {
                try await db.sql(
                    "DROP TRIGGER events_chain_fixed; DROP INDEX events_unchained; "
                        + "ALTER TABLE events DROP COLUMN hash; ALTER TABLE events DROP COLUMN data_sha256; "
                        + "DELETE FROM grdb_migrations WHERE identifier LIKE 'v9:%'")
            }
            try await db.open { store in
                #expect(try await store.auditHead() == head)
                let a = StoreContractTests.session(3)
                _ = try await StoreContractTests.start(store, a)
                let o = try await Self.verify(store)
                #expect(o.failure == nil)
                #expect(o.count == 7)
            }
        }
    }
}
