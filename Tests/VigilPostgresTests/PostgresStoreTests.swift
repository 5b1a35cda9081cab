import Foundation
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing
import VigilCore

@testable import VigilPostgres

@Suite("the PostgreSQL store, on a real PostgreSQL 15")
struct PostgresStoreTests {
    static let t0 = Timestamp(seconds: 1_800_000_000)
    static let sealer = TestSealer(key: 0x3C)

    static func session(_ n: Int) -> Session {
        Session(
            id: SessionID(rawValue: "ses_test\(n)"), caller: Caller(alias: "J"),
            location: Location(address: "1 Main St"),
            notes: "secret note", interval: .seconds(60), grace: .seconds(30), policy: .consoleOnly,
            checkInToken: "tok\(n)", startKey: nil, at: t0)
    }

    static func item(_ n: Int, session: SessionID, at: Timestamp = t0) -> OutboxItem {
        OutboxItem(
            id: NotificationID(rawValue: "ntf_\(n)"), sessionID: session, type: .dispatchRequested,
            targets: ["a", "b"], webhookIDs: ["msg_\(n)a", "msg_\(n)b"], body: Array("{\"at\":\"1 Main St\"}".utf8),
            createdAt: at, isDispatch: true)
    }

    static func insert(_ store: PostgresStore, _ s: Session, events: Int = 1, outbox: [OutboxItem] = []) async throws
        -> [StoredEvent]
    {
        var s = s
        s.version = 1
        return try await store.commit(
            CommitBatch(
                session: s, expectedVersion: nil, sessionID: s.id,
                events: (0..<events).map { _ in NewEvent(.sessionStarted, at: s.startedAt) }, outbox: outbox,
                outboxUpdates: []))
    }

    static func withStore<T: Sendable>(
        _ cluster: PostgresCluster, _ db: String, sealer: TestSealer = sealer,
        configure: (inout PostgresStoreConfiguration) -> Void = { _ in },
        _ body: (PostgresStore) async throws -> T
    ) async throws -> T {
        var c = cluster.configuration(database: db)
        configure(&c)
        return try await PostgresStore.withStore(
            configuration: c, sealer: sealer, keyID: "test-key-\(sealer.key)", body)
    }

    @Test("a committed session, its events and its notification read back; personal data is sealed at rest")
    func commitAndReadBack() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                let s = Self.session(1)
                let stored = try await Self.insert(store, s, outbox: [Self.item(1, session: s.id)])
                #expect(stored.map(\.seq) == [1])
                let back = try await store.session(s.id)
                #expect(back?.location.address == "1 Main St")
                #expect(back?.version == 1)
                #expect(try await store.session(SessionID(rawValue: "ses_none")) == nil)
                #expect(try await store.openSessions().map(\.id) == [s.id])
                #expect(try await store.sessions(.all, limit: 10).map(\.id) == [s.id])
                #expect(try await store.sessions(.state(.active), limit: 10).map(\.id) == [s.id])
                #expect(try await store.sessions(.state(.ended), limit: 10).isEmpty)
                #expect(try await store.events(of: s.id).map(\.type) == [.sessionStarted])
                #expect(try await store.events(after: 0, limit: 10).map(\.seq) == [1])
                #expect(try await store.sessionsDue(before: s.due) == [s.id])
                #expect(try await store.sessionsDue(before: s.due - .seconds(1)).isEmpty)
                #expect(try await store.oldestPendingNotification() == Self.t0)
                let due = try await store.dueNotifications(at: Self.t0, limit: 10)
                #expect(due.map(\.webhookIDs) == [["msg_1a", "msg_1b"]])
                #expect(due.first?.body == Array("{\"at\":\"1 Main St\"}".utf8))
                #expect(try await store.lastSequence() == 1)
                let drift = try await store.databaseNow().millis - Int64(Date().timeIntervalSince1970 * 1000)
                #expect(abs(drift) < 2000, "the database's clock and ours differ by \(drift) ms")

                for (table, column) in [("sessions", "snapshot"), ("events", "data"), ("outbox", "body")] {
                    let (status, out) = try await cluster.psql(
                        db,
                        "SELECT count(*) FROM \(table) WHERE position(convert_to('Main St', 'UTF8') in \(column)) > 0"
                    )
                    #expect(status == 0)
                    #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(table) holds cleartext")
                }

                let delivered = try await store.recordAttempt(
                    OutboxUpdate(
                        id: NotificationID(rawValue: "ntf_1"), status: .delivered, targetIndex: 0, attempts: 1,
                        nextAttemptAt: Self.t0))
                #expect(delivered)
                #expect(try await store.dueNotifications(at: Self.t0 + .seconds(60), limit: 10).isEmpty)
                let reopened = try await store.recordAttempts([
                    OutboxUpdate(
                        id: NotificationID(rawValue: "ntf_1"), status: .pending, targetIndex: 0, attempts: 2,
                        nextAttemptAt: Self.t0)
                ])
                #expect(reopened == [false])

                var ended = s
                ended.version = 2
                ended.state = .ended
                ended.endedAt = Self.t0 + .seconds(10)
                _ = try await store.commit(
                    CommitBatch(
                        session: ended, expectedVersion: 1, sessionID: s.id,
                        events: [NewEvent(.sessionEnded, at: Self.t0 + .seconds(10), ["note": "gone home"])],
                        outbox: [], outboxUpdates: []))
                #expect(try await store.openSessions().isEmpty)
                #expect(try await store.sessionsDue(before: Self.t0 + .seconds(3600)).isEmpty)
                #expect(try await store.purgeEnded(before: Self.t0 + .seconds(20)) == 1)
                #expect(try await store.purgeEnded(before: Self.t0 + .seconds(20)) == 0)
                let purged = try await store.session(s.id)
                #expect(purged?.location.address == "")
                #expect(purged?.notes == nil)
                #expect(try await store.events(of: s.id).last?.data == ["purged": true])
            }
        }
    }

    @Test("a stale version is refused (compare-and-set) and nothing of the batch is written")
    func compareAndSet() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                var s = Self.session(2)
                _ = try await Self.insert(store, s)
                s.version = 2
                do {
                    _ = try await store.commit(
                        CommitBatch(
                            session: s, expectedVersion: 7, sessionID: s.id,
                            events: [NewEvent(.checkInReceived, at: s.startedAt)],
                            outbox: [Self.item(9, session: s.id)], outboxUpdates: []))
                    Issue.record("a stale version was accepted")
                } catch let e as VigilError {
                    #expect(e.code == .conflict)
                }
                #expect(try await store.events(of: s.id).count == 1)
                #expect(try await store.session(s.id)?.version == 1)
                #expect(try await store.dueNotifications(at: Self.t0 + .seconds(60), limit: 10).isEmpty)
                #expect(try await store.lastSequence() == 1)
                // Starting the same session twice is a conflict too.
                await #expect(throws: VigilError.conflict("the row already exists")) {
                    _ = try await Self.insert(store, Self.session(2))
                }
                // The right version is accepted.
                _ = try await store.commit(
                    CommitBatch(
                        session: s, expectedVersion: 1, sessionID: s.id,
                        events: [NewEvent(.checkInReceived, at: s.startedAt)], outbox: [], outboxUpdates: []))
                #expect(try await store.session(s.id)?.version == 2)
                #expect(try await store.events(after: 0, limit: 10).map(\.seq) == [1, 2])
            }
        }
    }

    @Test("the event log is append-only: no delete, no truncate, no rewrite of what happened")
    func appendOnly() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                _ = try await Self.insert(store, Self.session(3), events: 2)
                for sql in [
                    "DELETE FROM events", "TRUNCATE events", "UPDATE events SET type = 'session.ended'",
                    "UPDATE events SET seq = seq + 100",
                ] {
                    let (status, out) = try await cluster.psql(db, sql)
                    #expect(status != 0, "\(sql) was allowed")
                    #expect(out.contains("append-only"), "\(sql): \(out)")
                }
                #expect(try await store.events(after: 0, limit: 10).map(\.type) == [.sessionStarted, .sessionStarted])
            }
        }
    }

    @Test("seq is gap-free and increasing in commit order under concurrent commits from two instances")
    func gapFreeAcrossInstances() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { a in
                try await Self.withStore(cluster, db) { b in
                    let done = Atomic<Bool>(false)
                    // A reader resuming from its cursor must never find a gap that a late commit fills afterwards.
                    async let reader: (Int64, Int) = {
                        var cursor: Int64 = 0
                        var gaps = 0
                        while true {
                            let finished = done.load(ordering: .acquiring)
                            let events = try await a.events(after: cursor, limit: 1000)
                            for e in events {
                                if e.seq != cursor + 1 { gaps += 1 }
                                cursor = e.seq
                            }
                            if finished && events.isEmpty { return (cursor, gaps) }
                        }
                    }()
                    let commits = try await withThrowingTaskGroup(of: [Int64].self) { group in
                        for i in 0..<100 {
                            let store = i % 2 == 0 ? a : b
                            group.addTask {
                                try await Self.insert(store, Self.session(1000 + i), events: i % 3 + 1).map(\.seq)
                            }
                        }
                        var all: [[Int64]] = []
                        for try await s in group { all.append(s) }
                        return all
                    }
                    done.store(true, ordering: .releasing)
                    let (last, gaps) = try await reader
                    let total = (0..<100).reduce(0) { $0 + $1 % 3 + 1 }
                    #expect(commits.flatMap { $0 }.sorted() == (1...Int64(total)).map { $0 })
                    for seqs in commits { #expect(seqs == Array(seqs[0]..<(seqs[0] + Int64(seqs.count)))) }
                    #expect(gaps == 0)
                    #expect(last == Int64(total))
                    #expect(try await b.lastSequence() == Int64(total))
                }
            }
        }
    }

    @Test("concurrent commits share transactions; a stale one fails alone, the others keep gap-free numbers")
    func groupCommit() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                for i in 0..<10 { _ = try await Self.insert(store, Self.session(500 + i)) }
                let seen = Mutex<[[Int64]]>([])
                store.onCommit { events in seen.withLock { $0.append(events.map(\.seq)) } }
                let outcomes = try await withThrowingTaskGroup(of: (Bool, [Int64]).self) { group in
                    for i in 0..<60 {
                        group.addTask {
                            if i % 3 == 0 {
                                var s = Self.session(500 + i / 6)
                                s.version = 100
                                do {
                                    _ = try await store.commit(
                                        CommitBatch(
                                            session: s, expectedVersion: 99, sessionID: s.id,
                                            events: [NewEvent(.checkInReceived, at: Self.t0)],
                                            outbox: [Self.item(900 + i, session: s.id)], outboxUpdates: []))
                                    return (true, [])
                                } catch let e as VigilError where e.code == .conflict {
                                    return (false, [])
                                }
                            }
                            return (true, try await Self.insert(store, Self.session(600 + i)).map(\.seq))
                        }
                    }
                    var all: [(Bool, [Int64])] = []
                    for try await o in group { all.append(o) }
                    return all
                }
                #expect(outcomes.filter { !$0.0 }.count == 20)
                #expect(outcomes.flatMap(\.1).sorted() == Array(11...50))
                #expect(try await store.dueNotifications(at: Self.t0 + .seconds(60), limit: 100).isEmpty)
                #expect(try await store.events(after: 0, limit: 100).map(\.seq) == Array(1...50))
                let groups = seen.withLock { $0 }
                #expect(groups.flatMap { $0 } == Array(11...50), "onCommit in seq order")
                #expect(groups.contains { $0.count > 1 }, "some commits shared a transaction")
            }
        }
    }

    @Test("two owners claiming concurrently never get the same notification")
    func claimsAreExclusive() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { a in
                try await Self.withStore(cluster, db) { b in
                    let s = Self.session(5)
                    _ = try await Self.insert(store: a, s, items: (0..<120).map { Self.item($0, session: s.id) })
                    func drain(_ store: PostgresStore, _ owner: String) async throws -> [String] {
                        var got: [String] = []
                        while true {
                            let claimed = try await store.claimDueNotifications(
                                owner: owner, incarnation: 1, at: Self.t0, lease: .seconds(60), limit: 5)
                            if claimed.isEmpty { return got }
                            got += claimed.map(\.id.rawValue)
                        }
                    }
                    async let fromA = drain(a, "instance-a")
                    async let fromB = drain(b, "instance-b")
                    let (x, y) = try await (fromA, fromB)
                    #expect(Set(x).isDisjoint(with: Set(y)))
                    #expect(x.count + y.count == 120)
                    #expect(Set(x + y).count == 120)
                }
            }
        }
    }

    @Test("an expired lease is taken over by another owner; a live one is not")
    func expiredLeaseTakenOver() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                let s = Self.session(6)
                _ = try await Self.insert(store: store, s, items: [Self.item(1, session: s.id)])
                let first = try await store.claimDueNotifications(
                    owner: "a", incarnation: 1, at: Self.t0, lease: Millis(300), limit: 10)
                #expect(first.map(\.id.rawValue) == ["ntf_1"])
                #expect(
                    try await store.claimDueNotifications(
                        owner: "b", incarnation: 1, at: Self.t0, lease: .seconds(60), limit: 10
                    ).isEmpty)
                // Not due yet is never claimed, whoever asks.
                #expect(
                    try await store.claimDueNotifications(
                        owner: "a", incarnation: 9, at: Self.t0 - .seconds(1), lease: .seconds(60), limit: 10
                    ).isEmpty)
                try await Task.sleep(for: .milliseconds(600))
                let taken = try await store.claimDueNotifications(
                    owner: "b", incarnation: 1, at: Self.t0, lease: .seconds(60), limit: 10)
                #expect(taken.map(\.id.rawValue) == ["ntf_1"])
                // The late holder's write is fenced off; the new holder's goes through and frees the row.
                let update = OutboxUpdate(
                    id: NotificationID(rawValue: "ntf_1"), status: .pending, targetIndex: 0, attempts: 1,
                    nextAttemptAt: Self.t0)
                #expect(try await store.recordAttempts([update], owner: "a", incarnation: 1) == [false])
                #expect(try await store.recordAttempts([update], owner: "b", incarnation: 1) == [true])
                let again = try await store.claimDueNotifications(
                    owner: "a", incarnation: 1, at: Self.t0, lease: .seconds(60), limit: 10)
                #expect(again.map(\.attempts) == [1])
            }
        }
    }

    @Test("a restarted instance (same owner, higher incarnation) takes back its own claims at once")
    func restartTakesBackOwnClaims() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                let s = Self.session(7)
                _ = try await Self.insert(store: store, s, items: (0..<3).map { Self.item($0, session: s.id) })
                func claim(_ owner: String, _ inc: Int64) async throws -> [String] {
                    try await store.claimDueNotifications(
                        owner: owner, incarnation: inc, at: Self.t0, lease: .seconds(60), limit: 10
                    ).map(\.id.rawValue)
                }
                #expect(try await claim("a", 1).count == 3)
                #expect(try await claim("a", 1).isEmpty)
                #expect(try await claim("b", 1).isEmpty)
                #expect(try await claim("a", 2).count == 3)
                #expect(try await claim("a", 1).isEmpty)
                #expect(try await claim("b", 5).isEmpty)
                #expect(try await store.releaseClaims(owner: "a", incarnation: 2) == 3)
                #expect(try await claim("b", 5).count == 3)
            }
        }
    }

    @Test("due sessions are claimed by PostgreSQL's clock, by one owner each; a restart or a commit frees them")
    func sessionClaims() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { a in
                try await Self.withStore(cluster, db) { b in
                    // The test's timestamps are far in the future; these are made from the real clock.
                    let now = Timestamp(millis: Int64(Date().timeIntervalSince1970 * 1000))
                    var due: [SessionID] = []
                    for i in 0..<12 {
                        var s = Self.session(300 + i)
                        s.startedAt = now - .seconds(120)
                        s.due = now - .seconds(60)
                        due.append(s.id)
                        _ = try await Self.insert(a, s)
                    }
                    for i in 0..<3 {
                        var s = Self.session(400 + i)
                        s.startedAt = now
                        s.due = now + .seconds(3600)
                        _ = try await Self.insert(a, s)
                    }
                    func drain(_ store: PostgresStore, _ owner: String) async throws -> [SessionID] {
                        var got: [SessionID] = []
                        while true {
                            let claimed = try await store.claimDueSessions(
                                owner: owner, incarnation: 1, lease: .seconds(60), limit: 2)
                            if claimed.isEmpty { return got }
                            got += claimed.map(\.id)
                        }
                    }
                    async let fromA = drain(a, "a")
                    async let fromB = drain(b, "b")
                    let (x, y) = try await (fromA, fromB)
                    #expect(Set(x).isDisjoint(with: Set(y)))
                    #expect(Set(x + y) == Set(due))
                    #expect(x.count + y.count == due.count)
                    // A restart of b takes its own back at once; a still holds its own.
                    let back = try await b.claimDueSessions(owner: "b", incarnation: 2, lease: .seconds(60), limit: 100)
                    #expect(Set(back.map(\.id)) == Set(y))
                    // A commit on a claimed session gives the claim up.
                    if let first = x.first, var s = try await a.session(first) {
                        s.version = 2
                        _ = try await a.commit(
                            CommitBatch(
                                session: s, expectedVersion: 1, sessionID: s.id, events: [], outbox: [],
                                outboxUpdates: []))
                        let freed = try await b.claimDueSessions(
                            owner: "b", incarnation: 2, lease: .seconds(60), limit: 100)
                        #expect(freed.map(\.id) == [first])
                    }
                    #expect(try await a.releaseClaims(owner: "a", incarnation: 1) == x.count - 1)
                }
            }
        }
    }

    @Test(
        "a storage URL with a password, without a user or database, or cleartext off loopback is refused",
        arguments: [
            "postgres://vigil:secret@127.0.0.1:5432/vigil", "postgres://127.0.0.1/vigil", "postgres://vigil@127.0.0.1/",
            "postgres://vigil@db.example.org/vigil", "mysql://vigil@127.0.0.1/vigil", "postgres://vigil@127.0.0.1:0/v",
            "postgres://vigil@127.0.0.1:99999/v", "", "postgres://vigil@127.0.0.1/v?sslmode=disable",
        ])
    func badURLs(_ url: String) {
        #expect(throws: VigilError.self) { _ = try PostgresStoreConfiguration(url: url, password: "p") }
    }

    @Test("a storage URL gives host, port, user and database; off loopback it needs TLS")
    func goodURLs() throws {
        let c = try PostgresStoreConfiguration(url: "postgres://vigil@127.0.0.1:6543/monitor", password: "p")
        #expect(c.host == "127.0.0.1" && c.port == 6543 && c.username == "vigil" && c.database == "monitor")
        #expect(c.password == "p")
        let tls = try PostgresStoreConfiguration(
            url: "postgresql://vigil@db.example.org/vigil", password: nil, tls: .verifyFull(caFile: "/ca.pem"))
        #expect(tls.port == 5432 && tls.tls == .verifyFull(caFile: "/ca.pem"))
    }

    @Test("a named lease has one holder; it passes on expiry or to its holder's restart, with a new epoch")
    func namedLease() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                func take(_ owner: String, _ inc: Int64, _ ms: Int64 = 60_000) async throws -> LeaseGrant? {
                    try await store.acquireLease("scheduler", owner: owner, incarnation: inc, duration: Millis(ms))
                }
                let first = try await take("a", 1, 300)
                #expect(first?.epoch == 1)
                #expect((first?.remaining.value ?? 0) > 0 && (first?.remaining.value ?? 0) <= 300)
                #expect(try await take("b", 1) == nil)
                #expect(try await take("a", 1, 300)?.epoch == 1)
                try await Task.sleep(for: .milliseconds(450))
                #expect(try await take("b", 1)?.epoch == 2)
                #expect(try await take("a", 1) == nil)
                #expect(try await take("a", 2) == nil)
                #expect(try await take("b", 2)?.epoch == 3)
                #expect(try await take("b", 1) == nil)
            }
        }
    }

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

    @Test("a call to a server that stops answering throws unavailable within its deadline, and recovers")
    func deadlineFrozenServer() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db, configure: { $0.callTimeout = .seconds(1) }) { store in
                try await store.ping()
                _ = try await Self.insert(store, Self.session(10))
                try cluster.freeze()
                defer { cluster.resume() }
                let clock = ContinuousClock()
                for attempt in 0..<2 {
                    let start = clock.now
                    do {
                        if attempt == 0 {
                            try await store.ping()
                        } else {
                            _ = try await Self.insert(store, Self.session(11))
                        }
                        Issue.record("a frozen server answered")
                    } catch let e as VigilError {
                        #expect(e.code == .unavailable)
                    }
                    let took = clock.now - start
                    // The first call waits out its deadline; the next may fail sooner, on a connection the pool
                    // has not yet seen closed by the first one's deadline.
                    #expect(took < .milliseconds(1800), "attempt \(attempt) took \(took)")
                    if attempt == 0 { #expect(took >= .milliseconds(900), "took \(took)") }
                }
                // Many commits at once: queueing counts against the deadline, so none waits behind the others.
                let start = clock.now
                let failed = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for i in 0..<30 {
                        group.addTask {
                            do {
                                _ = try await Self.insert(store, Self.session(40 + i))
                                return false
                            } catch let e as VigilError {
                                return e.code == .unavailable
                            }
                        }
                    }
                    var n = 0
                    for try await f in group where f { n += 1 }
                    return n
                }
                #expect(failed == 30)
                #expect(clock.now - start < .milliseconds(1800), "took \(clock.now - start)")
                cluster.resume()
                // Back: the closed connections are replaced and calls succeed again.
                var recovered = false
                for _ in 0..<20 where !recovered {
                    recovered = (try? await store.ping()) != nil
                    if !recovered { try await Task.sleep(for: .milliseconds(250)) }
                }
                #expect(recovered)
                #expect(try await store.session(Self.session(10).id) != nil)
            }
        }
    }

    @Test("a call to a server that was stopped throws unavailable within its deadline")
    func deadlineStoppedServer() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db, configure: { $0.callTimeout = .seconds(2) }) { store in
                try await store.ping()
                try await cluster.pgctl(["stop", "-m", "immediate", "-w"])
                let clock = ContinuousClock()
                let start = clock.now
                await #expect(throws: VigilError.self) { try await store.ping() }
                #expect(clock.now - start < .milliseconds(2500))
            }
        }
    }

    @Test("a call through a listener that accepts and never answers throws unavailable within its deadline")
    func deadlineSilentListener() async throws {
        let silent = try SilentListener()
        defer { silent.close() }
        var c = PostgresStoreConfiguration(
            host: "127.0.0.1", port: silent.port, username: "vigil", password: "x", database: "vigil")
        c.callTimeout = .milliseconds(500)
        c.listens = false
        let store = try PostgresStore(configuration: c, sealer: Self.sealer, keyID: "k")
        let clock = ContinuousClock()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            for _ in 0..<2 {
                let start = clock.now
                do {
                    try await store.ping()
                    Issue.record("a silent server answered")
                } catch let e as VigilError {
                    #expect(e.code == .unavailable)
                }
                let took = clock.now - start
                #expect(took >= .milliseconds(450) && took < .milliseconds(1500), "took \(took)")
            }
            group.cancelAll()
        }
        #expect(silent.accepted() >= 1)
    }

    @Test("a commit on one instance wakes a listener on another within a second, also after a reconnect")
    func notifyWakesOtherInstance() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { a in
                try await Self.withStore(cluster, db) { b in
                    let wakeups = b.eventWakeups()
                    // The listener announces the counter once it listens: from then on nothing is missed.
                    #expect(try await Self.next(wakeups, atLeast: 0, within: .seconds(5)) == 0)
                    let clock = ContinuousClock()
                    let start = clock.now
                    let seq = try await Self.insert(a, Self.session(20)).last!.seq
                    let woke = try await Self.next(wakeups, atLeast: seq, within: .seconds(1))
                    #expect(woke == seq)
                    #expect(clock.now - start < .seconds(1))
                    #expect(try await b.events(after: 0, limit: 10).map(\.seq) == [seq])

                    // Cut the listening connection; a commit made meanwhile is announced after the reconnect.
                    let (status, _) = try await cluster.psql(
                        db,
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vigil-listener'"
                    )
                    #expect(status == 0)
                    let later = try await Self.insert(a, Self.session(21)).last!.seq
                    #expect(try await Self.next(wakeups, atLeast: later, within: .seconds(5)) == later)
                }
            }
        }
    }

    /// The first value at least `atLeast`, or an error after `within`.
    static func next(_ stream: AsyncStream<Int64>, atLeast: Int64, within: Duration) async throws -> Int64 {
        try await withThrowingTaskGroup(of: Int64?.self) { group in
            group.addTask {
                for await v in stream where v >= atLeast { return v }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: within)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else { throw PostgresCluster.Failure(description: "no wake-up within \(within)") }
            return first
        }
    }

    static func insert(store: PostgresStore, _ s: Session, items: [OutboxItem]) async throws {
        _ = try await insert(store, s, outbox: items)
    }
}

extension PostgresStore: Service {}

/// A TCP listener on 127.0.0.1 that accepts connections and never reads or answers: what a query meets behind a
/// proxy whose server went away.
final class SilentListener: Sendable {
    let fd: Int32
    let port: Int
    private let count = Atomic<Int>(0)
    private let held = Mutex<[Int32]>([])

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Bool in
                bind(fd, p, len) == 0 && listen(fd, 16) == 0 && getsockname(fd, p, &len) == 0
            }
        }
        guard ok else { throw PostgresCluster.Failure(description: "cannot listen") }
        port = Int(UInt16(bigEndian: addr.sin_port))
        let thread = Thread { [self] in
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { return }
                count.add(1, ordering: .relaxed)
                held.withLock { $0.append(c) }
            }
        }
        thread.start()
    }

    /// How many connections were accepted.
    func accepted() -> Int { count.load(ordering: .relaxed) }

    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
        for c in held.withLock({ $0 }) { Glibc.close(c) }
    }
}
