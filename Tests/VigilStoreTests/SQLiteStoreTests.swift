import Foundation
import Testing
import VigilCore
import VigilStore

@Suite("the SQLite store, on disk")
struct SQLiteStoreTests {
    static func tempPath() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-store-\(UUID().uuidString)")
        return dir.appendingPathComponent("vigil.sqlite").path
    }

    static func session(_ n: Int) -> Session {
        Session(
            id: SessionID(rawValue: "ses_test\(n)"), caller: Caller(alias: "J"),
            location: Location(address: "1 Main St"),
            notes: "secret note", interval: .seconds(60), grace: .seconds(30), policy: .consoleOnly,
            checkInToken: "tok\(n)", at: Timestamp(seconds: 1_800_000_000))
    }

    static func insert(_ store: SQLiteStore, _ s: Session) async throws -> [StoredEvent] {
        var s = s
        s.version = 1
        return try await store.commit(
            CommitBatch(
                session: s, expectedVersion: nil, sessionID: s.id,
                events: [NewEvent(.sessionStarted, at: s.startedAt)], outbox: [], outboxUpdates: []))
    }

    @Test("a committed session survives reopening the file")
    func durable() async throws {
        let path = Self.tempPath()
        do {
            let store = try SQLiteStore(path: path, sealer: nil)
            _ = try await Self.insert(store, Self.session(1))
        }
        let again = try SQLiteStore(path: path, sealer: nil)
        let open = try await again.openSessions()
        #expect(open.map(\.id) == [SessionID(rawValue: "ses_test1")])
        #expect(try await again.events(of: open[0].id).map(\.type) == [.sessionStarted])
    }

    @Test("a stale version is refused (compare-and-set) and nothing of the batch is written")
    func compareAndSet() async throws {
        let store = try SQLiteStore(path: Self.tempPath(), sealer: nil)
        var s = Self.session(2)
        _ = try await Self.insert(store, s)
        s.version = 2
        await #expect(throws: VigilError.self) {
            _ = try await store.commit(
                CommitBatch(
                    session: s, expectedVersion: 7, sessionID: s.id,
                    events: [NewEvent(.checkInReceived, at: s.startedAt)],
                    outbox: [], outboxUpdates: []))
        }
        #expect(try await store.events(of: s.id).count == 1)
        #expect(try await store.session(s.id)?.version == 1)
    }

    @Test("commitAll writes a group in one go; a stale batch in it fails alone, the others are written")
    func commitAllGroup() async throws {
        let store = try SQLiteStore(path: Self.tempPath(), sealer: nil)
        var sessions: [Session] = []
        for n in 10..<13 {
            var s = Self.session(n)
            _ = try await Self.insert(store, s)
            s.version = 2
            sessions.append(s)
        }
        let batches = sessions.enumerated().map { (i, s) in
            CommitBatch(
                session: s, expectedVersion: i == 1 ? 9 : 1, sessionID: s.id,
                events: [NewEvent(.checkInOverdue, at: s.startedAt)], outbox: [], outboxUpdates: [])
        }
        let results = await store.commitAll(batches)
        #expect(results.count == 3)
        #expect((try? results[0].get())?.count == 1)
        #expect((try? results[2].get())?.count == 1)
        guard case .failure(let e as VigilError) = results[1] else {
            Issue.record("the stale batch was written")
            return
        }
        #expect(e.code == .conflict)
        #expect(try await store.session(sessions[0].id)?.version == 2)
        #expect(try await store.session(sessions[1].id)?.version == 1)
        #expect(try await store.events(of: sessions[1].id).map(\.type) == [.sessionStarted])
        #expect(try await store.events(of: sessions[2].id).map(\.type) == [.sessionStarted, .checkInOverdue])
    }

    @Test("many concurrent commits share transactions and get increasing sequence numbers")
    func groupCommit() async throws {
        let store = try SQLiteStore(path: Self.tempPath(), sealer: nil)
        let seqs = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for i in 0..<200 { group.addTask { try await Self.insert(store, Self.session(100 + i)).map(\.seq) } }
            var all: [Int64] = []
            for try await s in group { all += s }
            return all
        }
        #expect(Set(seqs).count == 200)
        #expect(try await store.openSessions().count == 200)
        let events = try await store.events(after: 0, limit: 1000)
        #expect(events.map(\.seq) == events.map(\.seq).sorted())
    }

    @Test("recovery reads back every open session, decoded in parallel, none lost or doubled")
    func recoversMany() async throws {
        let store = try SQLiteStore(path: Self.tempPath(), sealer: nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<2500 { group.addTask { _ = try await Self.insert(store, Self.session(10_000 + i)) } }
            try await group.waitForAll()
        }
        let open = try await store.openSessions()
        #expect(open.count == 2500)
        #expect(Set(open.map(\.id)).count == 2500)
    }

    @Test("the event log is append-only")
    func appendOnly() async throws {
        let path = Self.tempPath()
        let store = try SQLiteStore(path: path, sealer: nil)
        _ = try await Self.insert(store, Self.session(3))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = [path, "DELETE FROM events;"]
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus != 0)
        #expect(try await store.events(after: 0, limit: 10).count == 1)
    }

    @Test("a notification is due, then not once delivered; a cancelled one is not re-opened")
    func outbox() async throws {
        let store = try SQLiteStore(path: Self.tempPath(), sealer: nil)
        let s = Self.session(4)
        _ = try await Self.insert(store, s)
        let item = OutboxItem(
            id: NotificationID(rawValue: "ntf_1"), sessionID: s.id, type: .dispatchRequested, targets: ["a", "b"],
            webhookIDs: ["msg_1", "msg_2"], body: Array("{}".utf8), createdAt: s.startedAt, isDispatch: true)
        _ = try await store.commit(
            CommitBatch(
                session: nil, expectedVersion: nil, sessionID: s.id, events: [], outbox: [item], outboxUpdates: []))
        let due = try await store.dueNotifications(at: s.startedAt, limit: 10)
        #expect(due.map(\.webhookIDs) == [["msg_1", "msg_2"]])
        _ = try await store.commit(
            CommitBatch(
                session: nil, expectedVersion: nil, sessionID: s.id, events: [],
                outbox: [], outboxUpdates: [.cancel(item.id, at: s.startedAt)]))
        #expect(try await store.dueNotifications(at: s.startedAt + .seconds(60), limit: 10).isEmpty)
        let reopened = try await store.recordAttempt(
            OutboxUpdate(id: item.id, status: .pending, targetIndex: 0, attempts: 1, nextAttemptAt: s.startedAt))
        #expect(reopened == false)
    }

    @Test("a row keeps when its current target's first attempt was claimed, and a failover clears it")
    func failoverClock() async throws {
        let store = try SQLiteStore(path: Self.tempPath(), sealer: nil)
        let s = Self.session(5)
        _ = try await Self.insert(store, s)
        let item = OutboxItem(
            id: NotificationID(rawValue: "ntf_2"), sessionID: s.id, type: .dispatchRequested, targets: ["a", "b"],
            webhookIDs: ["msg_1", "msg_2"], body: Array("{}".utf8), createdAt: s.startedAt, isDispatch: true)
        _ = try await store.commit(
            CommitBatch(
                session: nil, expectedVersion: nil, sessionID: s.id, events: [], outbox: [item], outboxUpdates: []))
        let later = s.startedAt + .seconds(60)
        #expect(try await store.dueNotifications(at: later, limit: 10).first?.targetSince == nil)
        _ = try await store.recordAttempts([
            OutboxUpdate(
                id: item.id, status: .pending, targetIndex: 0, attempts: 1, nextAttemptAt: s.startedAt, claim: true,
                targetSince: s.startedAt)
        ])
        #expect(try await store.dueNotifications(at: later, limit: 10).first?.targetSince == s.startedAt)
        _ = try await store.recordAttempt(
            OutboxUpdate(id: item.id, status: .pending, targetIndex: 1, attempts: 0, nextAttemptAt: s.startedAt))
        let moved = try await store.dueNotifications(at: later, limit: 10).first
        #expect(moved?.targetIndex == 1 && moved?.targetSince == nil)
    }

    @Test("a missing data directory is created when its parent exists; a missing parent or a file is a clear error")
    func dataDirectory() throws {
        let path = Self.tempPath()
        _ = try SQLiteStore(path: path, sealer: nil)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(throws: VigilError.self) { _ = try SQLiteStore(path: "/nonexistent-vigil/deep/v.sqlite", sealer: nil) }
        if getuid() != 0 {
            let dir = (path as NSString).deletingLastPathComponent + "-ro"
            try FileManager.default.createDirectory(
                atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o500])
            #expect(throws: VigilError.self) { _ = try SQLiteStore(path: dir + "/v.sqlite", sealer: nil) }
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-notdir-\(UUID().uuidString)")
            .path
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        #expect(throws: VigilError.self) { _ = try SQLiteStore(path: file + "/v.sqlite", sealer: nil) }
    }
}
