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
            checkInToken: "tok\(n)", at: t0)
    }

    static func item(_ n: Int, session: SessionID, at: Timestamp = t0) -> OutboxItem {
        OutboxItem(
            id: NotificationID(rawValue: "ntf_\(n)"), sessionID: session, type: .dispatchRequested,
            targets: ["a", "b"], webhookIDs: [WebhookID(rawValue: "msg_\(n)a"), WebhookID(rawValue: "msg_\(n)b")],
            body: Array("{\"at\":\"1 Main St\"}".utf8),
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
