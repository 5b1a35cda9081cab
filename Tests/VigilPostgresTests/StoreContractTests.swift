import Foundation
import Synchronization
import Testing
import VigilCore
import VigilPostgres
import VigilStore
import VigilTestKit

/// One contract for the `SessionStore` port, run against every implementation, so that SQLite, PostgreSQL and the
/// in-memory store the logic tests use cannot drift. The in-memory store keeps no plans and does not purge (it
/// throws): those parts of the contract run on the durable stores only.
@Suite("the store contract, on SQLite, on PostgreSQL and in memory")
struct StoreContractTests {
    enum Kind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case sqlite, postgres, memory
        var testDescription: String { rawValue }
        /// The stores that keep data on disk, with plans and retention.
        static let durable: [Kind] = [.sqlite, .postgres]
    }

    static let t0 = Timestamp(seconds: 1_800_000_000)

    /// Runs `body` with a fresh, empty store of `kind`.
    static func with(_ kind: Kind, _ body: @Sendable (any SessionStore) async throws -> Void) async throws {
        switch kind {
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-contract-\(UUID())").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try await body(try SQLiteStore(path: dir + "/v.sqlite", sealer: TestSealer(key: 0x21)))
        case .memory:
            try await body(InMemoryStore())
        case .postgres:
            try await withCluster { cluster in
                let db = try await cluster.createDatabase()
                try await PostgresStore.withStore(
                    configuration: cluster.configuration(database: db), sealer: TestSealer(key: 0x21),
                    keyID: "contract"
                ) { store in try await body(store) }
            }
        }
    }

    static func session(_ n: Int, at t: Timestamp = t0) -> Session {
        var s = Session(
            id: SessionID(rawValue: "ses_contract\(n)"), caller: Caller(alias: "J", callbackNumber: "+15551234567"),
            location: Location(address: "\(n) Main St"), notes: "note", interval: .seconds(60), grace: .seconds(30),
            policy: .consoleOnly, checkInToken: "token\(n)", at: t)
        s.version = 1
        return s
    }

    static func item(_ n: Int, _ s: SessionID, due: Timestamp = t0) -> OutboxItem {
        var i = OutboxItem(
            id: NotificationID(rawValue: "ntf_contract\(n)"), sessionID: s, type: .escalationStep, targets: ["sup"],
            webhookIDs: [WebhookID(rawValue: "msg_contract\(n)")], body: Array(#"{"type":"escalation.step"}"#.utf8),
            createdAt: due,
            isDispatch: false)
        i.nextAttemptAt = due
        return i
    }

    static func start(_ store: any SessionStore, _ s: Session, outbox: [OutboxItem] = []) async throws
        -> [StoredEvent]
    {
        try await store.commit(
            CommitBatch(
                session: s, expectedVersion: nil, sessionID: s.id, events: [NewEvent(.sessionStarted, at: s.startedAt)],
                outbox: outbox, outboxUpdates: []))
    }

    @Test("a commit reads back whole: the session, its events in order, its notification", arguments: Kind.allCases)
    func readBack(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let s = Self.session(1)
            let stored = try await Self.start(store, s, outbox: [Self.item(1, s.id)])
            #expect(stored.count == 1)
            #expect(try await store.session(s.id) == s)
            #expect(try await store.events(of: s.id).map(\.type) == [.sessionStarted])
            let due = try await store.dueNotifications(at: Self.t0, limit: 10)
            #expect(due.map(\.id) == [NotificationID(rawValue: "ntf_contract1")])
            #expect(due.first?.body == Array(#"{"type":"escalation.step"}"#.utf8))
        }
    }

    @Test("a stale version is refused as a conflict, and nothing of its batch is written", arguments: Kind.allCases)
    func compareAndSet(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let s = Self.session(2)
            _ = try await Self.start(store, s)
            var next = s
            next.version = 2
            next.state = .overdue
            _ = try await store.commit(
                CommitBatch(
                    session: next, expectedVersion: 1, sessionID: s.id,
                    events: [NewEvent(.checkInOverdue, at: Self.t0)],
                    outbox: [], outboxUpdates: []))
            var stale = s
            stale.version = 2
            stale.state = .ended
            await #expect(throws: VigilError.self) {
                _ = try await store.commit(
                    CommitBatch(
                        session: stale, expectedVersion: 1, sessionID: s.id,
                        events: [NewEvent(.sessionEnded, at: Self.t0)], outbox: [Self.item(9, s.id)],
                        outboxUpdates: []))
            }
            #expect(try await store.session(s.id)?.state == .overdue)
            #expect(try await store.events(of: s.id).map(\.type) == [.sessionStarted, .checkInOverdue])
            #expect(try await store.dueNotifications(at: Self.t0, limit: 10).isEmpty)
        }
    }

    @Test("events after a sequence number come in order, paged, none missed", arguments: Kind.allCases)
    func eventsAfter(kind: Kind) async throws {
        try await Self.with(kind) { store in
            for n in 0..<25 { _ = try await Self.start(store, Self.session(100 + n)) }
            var seen: [Int64] = []
            var cursor: Int64 = 0
            while true {
                let page = try await store.events(after: cursor, limit: 10)
                guard let last = page.last else { break }
                seen += page.map(\.seq)
                cursor = last.seq
            }
            #expect(seen.count == 25)
            #expect(seen == seen.sorted())
            #expect(Set(seen).count == 25)
        }
    }

    @Test("a notification is due, then not once delivered; a cancelled one stays cancelled", arguments: Kind.allCases)
    func outboxLifecycle(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let s = Self.session(3)
            _ = try await Self.start(
                store, s, outbox: [Self.item(3, s.id), Self.item(4, s.id, due: Self.t0 + .seconds(5))])
            #expect(try await store.dueNotifications(at: Self.t0, limit: 10).count == 1)
            #expect(try await store.oldestPendingNotification() == Self.t0)
            #expect(try await store.pendingNotificationCount() == 2)
            let delivered = OutboxUpdate(
                id: NotificationID(rawValue: "ntf_contract3"), status: .delivered, targetIndex: 0, attempts: 1,
                nextAttemptAt: Self.t0)
            #expect(try await store.recordAttempt(delivered))
            #expect(try await store.pendingNotificationCount() == 1)
            #expect(
                try await store.dueNotifications(at: Self.t0 + .seconds(10), limit: 10).map(\.id.rawValue) == [
                    "ntf_contract4"
                ])
            #expect(try await store.recordAttempt(.cancel(NotificationID(rawValue: "ntf_contract4"), at: Self.t0)))
            let reopen = OutboxUpdate(
                id: NotificationID(rawValue: "ntf_contract4"), status: .pending, targetIndex: 0, attempts: 0,
                nextAttemptAt: Self.t0)
            #expect(try await store.recordAttempt(reopen) == false, "only a pending row takes an attempt's update")
            #expect(try await store.dueNotifications(at: Self.t0 + .seconds(10), limit: 10).isEmpty)
            #expect(try await store.oldestPendingNotification() == nil)
            #expect(try await store.pendingNotificationCount() == 0)
        }
    }

    @Test("open sessions, due sessions and listings agree with what was committed", arguments: Kind.allCases)
    func listings(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let a = Self.session(5, at: Self.t0)
            let b = Self.session(6, at: Self.t0 + .seconds(1))
            _ = try await Self.start(store, a)
            _ = try await Self.start(store, b)
            var ended = b
            ended.version = 2
            ended.state = .ended
            ended.endedAt = Self.t0 + .seconds(2)
            _ = try await store.commit(
                CommitBatch(
                    session: ended, expectedVersion: 1, sessionID: b.id, events: [NewEvent(.sessionEnded, at: Self.t0)],
                    outbox: [], outboxUpdates: []))
            #expect(try await store.openSessions().map(\.id) == [a.id])
            #expect(try await store.sessions(.all, limit: 10).map(\.id) == [b.id, a.id], "newest first")
            #expect(try await store.sessions(.state(.ended), limit: 10).map(\.id) == [b.id])
            // a is due one interval after it started; b is ended and never due.
            #expect(try await store.sessionsDue(before: Self.t0 + .seconds(59)).isEmpty)
            #expect(try await store.sessionsDue(before: Self.t0 + .seconds(60)) == [a.id])
            try await store.ping()
        }
    }

    @Test("purging ended sessions leaves open sessions and their timelines alone", arguments: Kind.durable)
    func purgeSparesOpen(kind: Kind) async throws {
        // (Both stores also refuse to delete or rewrite events in the database itself, a trigger that their own
        // suites exercise with raw SQL: through the port there is no way to delete.)
        try await Self.with(kind) { store in
            let s = Self.session(7)
            _ = try await Self.start(store, s)
            _ = try await store.purgeEnded(before: Self.t0 + .seconds(3600))
            #expect(try await store.events(of: s.id).count == 1)
            #expect(try await store.session(s.id)?.location.address == "7 Main St")
        }
    }

    @Test(
        "a plan is saved, read back, replaced and deleted; names are exact",
        arguments: Kind.durable)
    func plans(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let plans = try #require(store as? any PlanStore)
            #expect(try await plans.plan(named: "J") == nil)
            let sam = Responder(name: "Sam", phone: "+15557654321", relation: "friend")
            try await plans.savePlan(named: "J", responders: [sam], at: Self.t0)
            #expect(try await plans.plan(named: "J") == [sam])
            #expect(try await plans.plan(named: "j") == nil, "names are exact")
            let kim = Responder(name: "Kim", phone: "+15550001111")
            try await plans.savePlan(named: "J", responders: [kim, sam], at: Self.t0 + .seconds(1))
            #expect(try await plans.plan(named: "J") == [kim, sam])
            #expect(try await plans.deletePlan(named: "J"))
            #expect(try await plans.deletePlan(named: "J") == false)
            #expect(try await plans.plan(named: "J") == nil)
        }
    }

    @Test(
        "purging an ended session removes its responders with the rest of its personal data", arguments: Kind.durable)
    func purgeResponders(kind: Kind) async throws {
        try await Self.with(kind) { store in
            var s = Self.session(8)
            s.responders = [Responder(name: "Sam", phone: "+15557654321", relation: "friend")]
            _ = try await Self.start(store, s)
            var ended = s
            ended.version = 2
            ended.state = .ended
            ended.endedAt = Self.t0
            _ = try await store.commit(
                CommitBatch(
                    session: ended, expectedVersion: 1, sessionID: s.id, events: [NewEvent(.sessionEnded, at: Self.t0)],
                    outbox: [], outboxUpdates: []))
            #expect(try await store.session(s.id)?.responders?.count == 1)
            #expect(try await store.purgeEnded(before: Self.t0 + .seconds(1)) == 1)
            #expect(try await store.session(s.id)?.responders == nil)
        }
    }

    @Test("every commit's events reach the commit listener once durable, numbered, in order", arguments: Kind.allCases)
    func commitListener(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let heard = Mutex<[[Int64]]>([])
            store.onCommit { events in heard.withLock { $0.append(events.map(\.seq)) } }
            var written: [[Int64]] = []
            for n in 20..<25 {
                let s = Self.session(n)
                written.append(try await Self.start(store, s).map(\.seq))
            }
            let system = try await store.commit(
                CommitBatch(
                    session: nil, expectedVersion: nil, sessionID: nil,
                    events: [NewEvent(.systemAlarm, at: Self.t0, ["raised": true])], outbox: [], outboxUpdates: []))
            written.append(system.map(\.seq))
            #expect(heard.withLock { $0 } == written, "each commit heard once, with the numbers it was given")
            let all = written.flatMap { $0 }
            #expect(all == all.sorted() && Set(all).count == all.count)
        }
    }

    @Test("a session that is not stored reads as nil, and its timeline as empty", arguments: Kind.allCases)
    func unknownSession(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let id = SessionID(rawValue: "ses_contractmissing")
            let session = try await store.session(id)
            let events = try await store.events(of: id)
            #expect(session == nil)
            #expect(events.isEmpty)
        }
    }
}
