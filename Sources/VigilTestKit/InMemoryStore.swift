import Synchronization
import VigilCore

/// A `SessionStore` in memory, with the same compare-and-set rule as the SQLite store; for logic tests only.
public final class InMemoryStore: SessionStore, Sendable {
    private struct State {
        var sessions: [SessionID: Session] = [:]
        var events: [StoredEvent] = []
        var outbox: [NotificationID: OutboxItem] = [:]
        var order: [NotificationID] = []
        var seq: Int64 = 0
        var failNext: VigilError?
    }

    private let state = Mutex(State())
    private let listener = CommitListener()
    /// Idempotency keys, by entry id (see `InMemoryStore+Idempotency.swift`).
    let keys = Mutex<[String: InMemoryKey]>([:])
    /// Link tokens' hashes and their sessions.
    let links = Mutex<[String: SessionID]>([:])

    /// Creates an empty store.
    public init() {}

    /// Makes the next commit fail with `error` (a full disk, say).
    public func failNextCommit(with error: VigilError) { state.withLock { $0.failNext = error } }

    /// Every notification written, in order.
    public var notifications: [OutboxItem] { state.withLock { s in s.order.compactMap { s.outbox[$0] } } }

    /// Every event, in order.
    public var allEvents: [StoredEvent] { state.withLock { $0.events } }

    public func onCommit(_ f: @escaping @Sendable ([StoredEvent]) -> Void) { listener.set(f) }

    public func commit(_ batch: CommitBatch) async throws -> [StoredEvent] {
        let stored = try commitLocked(batch)
        listener.notify(stored)
        return stored
    }

    private func commitLocked(_ batch: CommitBatch) throws -> [StoredEvent] {
        try state.withLock { s in
            if let e = s.failNext {
                s.failNext = nil
                throw e
            }
            if let new = batch.session {
                let stored = s.sessions[new.id]
                if let expected = batch.expectedVersion {
                    guard stored?.version == expected else { throw VigilError.conflict("version mismatch") }
                } else if stored != nil {
                    throw VigilError.conflict("session exists")
                }
                s.sessions[new.id] = new
            }
            var out: [StoredEvent] = []
            for e in batch.events {
                s.seq += 1
                out.append(StoredEvent(seq: s.seq, sessionID: batch.sessionID, type: e.type, at: e.at, data: e.data))
            }
            s.events.append(contentsOf: out)
            for item in batch.outbox {
                s.outbox[item.id] = item
                s.order.append(item.id)
            }
            for u in batch.outboxUpdates { Self.apply(u, to: &s.outbox) }
            return out
        }
    }

    private static func apply(_ u: OutboxUpdate, to outbox: inout [NotificationID: OutboxItem]) {
        guard var item = outbox[u.id] else { return }
        if u.onlyIfPending && item.status != .pending { return }
        item.status = u.status
        item.targetIndex = u.targetIndex
        item.attempts = u.attempts
        item.nextAttemptAt = u.nextAttemptAt
        item.targetSince = u.targetSince
        outbox[u.id] = item
    }

    public func openSessions() async throws -> [Session] {
        state.withLock { Array($0.sessions.values.filter { $0.state.isOpen }) }
    }

    public func session(_ id: SessionID) async throws -> Session? { state.withLock { $0.sessions[id] } }

    public func sessions(_ filter: SessionFilter, limit: Int) async throws -> [Session] {
        state.withLock { s in
            let all = s.sessions.values.filter { x in
                if x.id.isCanary { return false }
                switch filter {
                case .open: return x.state.isOpen
                case .state(let st): return x.state == st
                case .all: return true
                }
            }
            return Array(all.sorted { $0.startedAt > $1.startedAt }.prefix(limit))
        }
    }

    public func events(of id: SessionID) async throws -> [StoredEvent] {
        state.withLock { $0.events.filter { $0.sessionID == id } }
    }

    public func events(after seq: Int64, limit: Int) async throws -> [StoredEvent] {
        state.withLock { Array($0.events.filter { $0.seq > seq }.prefix(limit)) }
    }

    public func dueNotifications(at now: Timestamp, limit: Int) async throws -> [OutboxItem] {
        state.withLock { s in
            Array(
                s.order.compactMap { s.outbox[$0] }.filter { $0.status == .pending && $0.nextAttemptAt <= now }
                    .prefix(limit))
        }
    }

    public func recordAttempt(_ update: OutboxUpdate) async throws -> Bool {
        state.withLock { s in
            let before = s.outbox[update.id]
            Self.apply(update, to: &s.outbox)
            return before != s.outbox[update.id] || before?.status == .pending
        }
    }

    public func recordAttempts(_ updates: [OutboxUpdate]) async throws -> [Bool] {
        var out: [Bool] = []
        for u in updates { out.append(try await recordAttempt(u)) }
        return out
    }

    public func oldestPendingNotification() async throws -> Timestamp? {
        state.withLock { $0.outbox.values.filter { $0.status == .pending }.map(\.nextAttemptAt).min() }
    }

    public func pendingNotificationCount() async throws -> Int? {
        state.withLock { $0.outbox.values.filter { $0.status == .pending }.count }
    }

    public func sessionsDue(before instant: Timestamp) async throws -> [SessionID] {
        state.withLock { s in
            s.sessions.values.filter { $0.state.isOpen && ($0.nextDeadline ?? Timestamp(millis: .max)) <= instant }
                .map(\.id)
        }
    }

    /// Not kept here: retention is tested on the real stores (`StoreContractTests`), and a fake that answered 0 would
    /// let a test pass that purges nothing.
    public func purgeEnded(before instant: Timestamp) async throws -> Int {
        throw VigilError.unavailable("the in-memory store does not purge; test retention on SQLite or PostgreSQL")
    }

    public func ping() async throws {}
}
