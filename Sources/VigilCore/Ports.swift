/// Everything one decision writes, committed in one durable transaction.
public struct CommitBatch: Sendable {
    /// The session after the decision, or nil when only outbox rows change.
    public var session: Session?
    /// The version the stored snapshot must have (compare-and-set); nil for a new session.
    public var expectedVersion: Int?
    /// The session the events belong to.
    public var sessionID: SessionID?
    /// Events to append.
    public var events: [NewEvent]
    /// Notifications to add.
    public var outbox: [OutboxItem]
    /// Outbox rows to change.
    public var outboxUpdates: [OutboxUpdate]

    /// Creates a batch.
    public init(
        session: Session?, expectedVersion: Int?, sessionID: SessionID?, events: [NewEvent], outbox: [OutboxItem],
        outboxUpdates: [OutboxUpdate]
    ) {
        self.session = session
        self.expectedVersion = expectedVersion
        self.sessionID = sessionID
        self.events = events
        self.outbox = outbox
        self.outboxUpdates = outboxUpdates
    }
}

extension CommitBatch {
    /// The shape of every store's `commitAll`: prepares each batch (encoding, sealing; one that cannot be prepared
    /// fails alone), writes the prepared ones with `write` (one result each, in order), and returns a result for
    /// every batch in the batches' order.
    public static func commitEach<Prepared>(
        _ batches: [CommitBatch], prepare: (CommitBatch) throws -> Prepared,
        write: ([Prepared]) async -> [Result<[StoredEvent], any Error>]
    ) async -> [Result<[StoredEvent], any Error>] {
        var out = [Result<[StoredEvent], any Error>](
            repeating: .failure(VigilError.unavailable("not written")), count: batches.count)
        var prepared: [Prepared] = []
        var positions: [Int] = []
        for (i, b) in batches.enumerated() {
            do {
                prepared.append(try prepare(b))
                positions.append(i)
            } catch {
                out[i] = .failure(error)
            }
        }
        if prepared.isEmpty { return out }
        let results = await write(prepared)
        for (k, i) in positions.enumerated() where k < results.count { out[i] = results[k] }
        return out
    }
}

/// Which sessions a listing wants.
public enum SessionFilter: Hashable, Sendable {
    /// Every session not ended.
    case open
    /// Sessions in one state.
    case state(SessionState)
    /// All sessions.
    case all
}

/// Sessions: their snapshots, written with their events and notifications in one durable commit.
public protocol SessionRepository: Sendable {
    /// Writes a batch durably; returns its events with their sequence numbers. Throws `VigilError` with code
    /// `conflict` when the snapshot's version is not `expectedVersion`.
    func commit(_ batch: CommitBatch) async throws -> [StoredEvent]
    /// Writes several independent batches, each on its own; see the default implementation.
    func commitAll(_ batches: [CommitBatch]) async -> [Result<[StoredEvent], any Error>]
    /// Every session not ended.
    func openSessions() async throws -> [Session]
    /// One session by id.
    func session(_ id: SessionID) async throws -> Session?
    /// Sessions matching a filter, newest first.
    func sessions(_ filter: SessionFilter, limit: Int) async throws -> [Session]
    /// Ids of open sessions whose stored deadline is at or before `instant`.
    func sessionsDue(before instant: Timestamp) async throws -> [SessionID]
}

/// The append-only event log, and news of each commit.
public protocol EventLog: Sendable {
    /// A session's events in order.
    func events(of id: SessionID) async throws -> [StoredEvent]
    /// Events after a sequence number, in order.
    func events(after seq: Int64, limit: Int) async throws -> [StoredEvent]
    /// Sets the one listener told of every commit's events once they are durable, in `seq` order, whoever made
    /// the commit (the engine, an alarm, a location reveal): the console stream and metrics hang off it.
    func onCommit(_ listener: @escaping @Sendable ([StoredEvent]) -> Void)
}

/// The outbox, as the delivery worker and the watchdog see it.
public protocol OutboxQueue: Sendable {
    /// Pending notifications due at `now`, oldest first.
    func dueNotifications(at now: Timestamp, limit: Int) async throws -> [OutboxItem]
    /// Records an attempt's bookkeeping on a pending notification; false when it is no longer pending.
    func recordAttempt(_ update: OutboxUpdate) async throws -> Bool
    /// Records several in one transaction; for each, false when it is no longer pending.
    func recordAttempts(_ updates: [OutboxUpdate]) async throws -> [Bool]
    /// The oldest `nextAttemptAt` among pending notifications.
    func oldestPendingNotification() async throws -> Timestamp?
    /// How many notifications are pending (for metrics); nil when the store cannot say cheaply.
    func pendingNotificationCount() async throws -> Int?
    /// Makes the attempts that an earlier incarnation of this instance left in flight (a crash) due at `now`;
    /// returns how many. Another live instance's claims are never touched.
    func releaseOrphanedClaims(at now: Timestamp) async throws -> Int
}

/// Retention: personal data does not outlive its use.
public protocol RetentionStore: Sendable {
    /// Removes personal data from sessions ended before `instant`; returns how many were purged.
    func purgeEnded(before instant: Timestamp) async throws -> Int
}

/// Durable storage of sessions, their event log and the outbox: every role, in one store (SQLite or PostgreSQL).
/// Parts of the service take the role they use (`OutboxQueue` for delivery, `SessionRepository` for alarms).
public protocol SessionStore: SessionRepository, EventLog, OutboxQueue, RetentionStore {
    /// Checks the store answers.
    func ping() async throws
}

extension OutboxQueue {
    /// Stores without claims have nothing to release.
    public func releaseOrphanedClaims(at now: Timestamp) async throws -> Int { 0 }

    /// A store that does not count its outbox reports nothing rather than a wrong zero.
    public func pendingNotificationCount() async throws -> Int? { nil }
}

extension SessionRepository {
    /// Writes several independent batches one after another (one failing does not fail the others); a store that
    /// can, writes them in one transaction instead. The results are in the batches' order.
    public func commitAll(_ batches: [CommitBatch]) async -> [Result<[StoredEvent], any Error>] {
        var out: [Result<[StoredEvent], any Error>] = []
        out.reserveCapacity(batches.count)
        for b in batches {
            do { out.append(.success(try await commit(b))) } catch { out.append(.failure(error)) }
        }
        return out
    }
}

/// The current time. Production uses a clock anchored to the monotonic clock, so a wall-clock step cannot fire a
/// ladder early; tests use a manual clock.
public protocol WallClock: Sendable {
    /// Now.
    func now() -> Timestamp
}

/// Keeps one deadline per session and calls back when it passes.
public protocol TimerScheduler: Sendable {
    /// Arms (or re-arms) the deadline of a session.
    func arm(_ id: SessionID, at deadline: Timestamp)
    /// Removes the deadline of a session.
    func disarm(_ id: SessionID)
}

/// Receives committed events (console stream, metrics) and news of outbox work.
public protocol EngineObserver: Sendable {
    /// Events just made durable.
    func committed(_ events: [StoredEvent])
    /// New or changed outbox rows are waiting.
    func outboxChanged()
}

/// Encrypts confidential bytes at rest (AES-GCM in production) and opens them again.
///
/// `context` names where the blob lives (its table and row, e.g. `sessions:ses_…`): it is authenticated with the
/// blob, so a sealed blob copied into another row or table does not open.
public protocol DataSealer: Sendable {
    /// Encrypts and authenticates, bound to `context`.
    func seal(_ plain: [UInt8], context: String) throws -> [UInt8]
    /// Checks (the same `context` included) and decrypts.
    func open(_ sealed: [UInt8], context: String) throws -> [UInt8]
}

extension DataSealer {
    /// Seals without a context.
    public func seal(_ plain: [UInt8]) throws -> [UInt8] { try seal(plain, context: "") }
    /// Opens a blob sealed without a context.
    public func open(_ sealed: [UInt8]) throws -> [UInt8] { try open(sealed, context: "") }
}
