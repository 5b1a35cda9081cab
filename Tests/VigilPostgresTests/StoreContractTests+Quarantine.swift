import Foundation
import Synchronization
import Testing
import VigilPostgres
import VigilStore
import VigilTestKit

@testable import VigilCore

/// A sealer whose blobs stop opening in the contexts a test names, as a damaged blob or another key would: the
/// store's own reads meet it exactly where a flipped byte on disk would be met.
final class DamagingSealer: DataSealer, Sendable {
    let inner = TestSealer(key: 0x21)
    let damaged = Mutex<Set<String>>([])

    func seal(_ plain: [UInt8], context: String) throws -> [UInt8] { try inner.seal(plain, context: context) }

    func open(_ sealed: [UInt8], context: String) throws -> [UInt8] {
        if damaged.withLock({ $0.contains(context) }) { throw VigilError(.internalError, "authentication failed") }
        return try inner.open(sealed, context: context)
    }
}

extension StoreContractTests {
    /// Runs `body` with a fresh durable store whose sealer a test can damage.
    static func withDamageable(
        _ kind: Kind, _ body: @Sendable (any SessionStore & QuarantineStore, DamagingSealer) async throws -> Void
    ) async throws {
        let sealer = DamagingSealer()
        switch kind {
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-quarantine-\(UUID())").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try await body(try SQLiteStore(path: dir + "/v.sqlite", sealer: sealer), sealer)
        case .postgres:
            try await withCluster { cluster in
                let db = try await cluster.createDatabase()
                try await PostgresStore.withStore(
                    configuration: cluster.configuration(database: db), sealer: sealer, keyID: "contract"
                ) { store in try await body(store, sealer) }
            }
        case .memory:
            Issue.record("the in-memory store seals nothing")
        }
    }

    @Test(
        "an unreadable notification is set aside and the others are still due; it is never read again",
        arguments: Kind.durable)
    func unreadableNotification(kind: Kind) async throws {
        try await Self.withDamageable(kind) { store, sealer in
            let a = Self.session(30)
            let b = Self.session(31)
            _ = try await Self.start(store, a, outbox: [Self.item(30, a.id)])
            _ = try await Self.start(store, b, outbox: [Self.item(31, b.id)])
            sealer.damaged.withLock { _ = $0.insert("outbox:ntf_contract30") }
            #expect(try await store.dueNotifications(at: Self.t0, limit: 10).map(\.id.rawValue) == ["ntf_contract31"])
            let rows = try await store.quarantined()
            #expect(rows.map(\.kind) == [.notification])
            #expect(rows.map(\.rowID) == ["ntf_contract30"])
            #expect(rows.map(\.sessionID) == [a.id])
            #expect(rows.first?.summary.contains("ses_contract30") == true)
            // Out of the pending outbox: not retried, not a stalled outbox for the watchdog.
            #expect(try await store.dueNotifications(at: Self.t0 + .seconds(60), limit: 10).count == 1)
            #expect(try await store.pendingNotificationCount() == 1)
            #expect(try await store.quarantined().count == 1)
        }
    }

    @Test(
        "an unreadable snapshot is set aside: recovery reads the others, the sweep skips it, a read names it",
        arguments: Kind.durable)
    func unreadableSnapshot(kind: Kind) async throws {
        try await Self.withDamageable(kind) { store, sealer in
            let a = Self.session(32)
            let b = Self.session(33)
            _ = try await Self.start(store, a)
            _ = try await Self.start(store, b)
            sealer.damaged.withLock { _ = $0.insert("sessions:ses_contract33") }
            #expect(try await store.openSessions().map(\.id) == [a.id])
            #expect(try await store.quarantined().map(\.sessionID) == [b.id])
            #expect(try await store.quarantined().map(\.kind) == [.snapshot])
            #expect(try await store.sessionsDue(before: Self.t0 + .seconds(3600)) == [a.id])
            await #expect(throws: VigilError.unreadable(b.id)) { _ = try await store.session(b.id) }
            #expect(try await store.sessions(.all, limit: 10).map(\.id) == [a.id])
            #expect(try await store.unreadableSession(b.id)?.version == 1)
            #expect(try await store.unreadableSession(a.id) == nil)
        }
    }

    @Test(
        "an operator's end of an unreadable session ends it, clears its listing, and it reads again",
        arguments: Kind.durable)
    func endingAnUnreadableSession(kind: Kind) async throws {
        try await Self.withDamageable(kind) { store, sealer in
            let b = Self.session(34)
            _ = try await Self.start(store, b)
            sealer.damaged.withLock { _ = $0.insert("sessions:ses_contract34") }
            let time = ManualTime(start: Self.t0 + .seconds(5))
            let engine = SessionEngine(
                store: store, scheduler: time, clock: time, policies: ["default": .consoleOnly],
                observer: RecordingObserver())
            #expect(try await engine.recover() == 0)
            #expect(try await store.quarantined().map(\.sessionID) == [b.id])
            // Only an end acts on it: any other command is refused, naming it.
            await #expect(throws: VigilError.unreadable(b.id)) {
                try await engine.execute(b.id, .checkIn(source: .operator, note: nil))
            }
            // The damaged blob is replaced by an ended record holding no personal data.
            sealer.damaged.withLock { $0 = [] }
            let ended = try await engine.execute(b.id, .end(outcome: .other, by: "console", note: nil))
            #expect(ended.state == .ended)
            #expect(try await store.quarantined().isEmpty)
            let read = try #require(try await store.session(b.id))
            #expect(read.state == .ended && read.outcome == .other && read.version == 2)
            #expect(read.caller == Caller() && read.location.address == "" && read.notes == nil)
            #expect(read.startedAt == b.startedAt)
            #expect(try await store.events(of: b.id).map(\.type) == [.sessionStarted, .sessionEnded])
        }
    }
}
