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
    let client: PostgresClient
    let sealer: any DataSealer
    let keyID: String
    let logger: Logger
    /// Queries are never logged: their binds carry ids, and a mistake could put more there.
    let quiet = Logger(label: "vigil.postgres.quiet", factory: { _ in SwiftLogNoOpLogHandler() })
    private let listener = Mutex<(@Sendable ([StoredEvent]) -> Void)?>(nil)
    private let writes = Mutex(PendingWrites())
    let wakeups = Mutex(WakeupSubscribers())
    /// Finished by `prepare()`: the listener starts once the tables it reads exist.
    let prepared = AsyncStream<Void>.makeStream()
    private let running = Atomic<Bool>(false)

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
        self.client = PostgresClient(configuration: try configuration.clientConfiguration(), backgroundLogger: logger)
    }

    /// Runs the connection pool and the listening connection until the task is cancelled (or, in a
    /// `ServiceGroup`, shut down gracefully: the pool ends then, and the listener with it). Call once.
    public func run() async throws {
        guard !running.exchange(true, ordering: .relaxed) else {
            throw VigilError(.internalError, "a PostgresStore runs once")
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
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
    public func onCommit(_ f: @escaping @Sendable ([StoredEvent]) -> Void) { listener.withLock { $0 = f } }

    // MARK: Start

    /// Migrates the schema under a transaction-scoped advisory lock (several instances may start at once), then
    /// checks the encryption key: the first start stores a check value, every later one must open it.
    public func prepare() async throws {
        try await probe()
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
            return applied
        }
        prepared.continuation.finish()
        if !applied.isEmpty {
            logger.notice("migrated the PostgreSQL schema", metadata: ["versions": "\(applied)"])
        }
    }

    /// Opens one connection of its own and closes it: a wrong password, a certificate that does not verify or a
    /// refused port is reported at once and by name, where the pool would keep retrying until the deadline.
    private func probe() async throws {
        let config = try configuration.connectionConfiguration(application: "vigil")
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

    // MARK: Writing

    /// A batch with every blob already encoded and sealed, so the writer only runs SQL.
    struct PreparedBatch: Sendable {
        var batch: CommitBatch
        var snapshot: Data?
        var events: [ByteBuffer]
        var outbox: [(body: Data, targets: String, webhookIDs: String)]
    }

    /// A batch waiting for the writer, with its caller and when it was queued.
    struct QueuedBatch: Sendable {
        var batch: PreparedBatch
        var caller: CheckedContinuation<[StoredEvent], any Error>
        var queuedAt: ContinuousClock.Instant
    }

    struct PendingWrites {
        var queue: [QueuedBatch] = []
        var writing = false
    }

    /// The most batches one transaction carries.
    static let maxGroup = 64

    /// Writes a batch durably; throws `conflict` (writing nothing of it) when the snapshot's version moved.
    /// Concurrent commits of this instance share one transaction (group commit), each batch in its own savepoint.
    public func commit(_ batch: CommitBatch) async throws -> [StoredEvent] {
        // Seal before the transaction so encryption does not lengthen it.
        let prepared = PreparedBatch(
            batch: batch,
            snapshot: try batch.session.map {
                Data(try sealer.seal(VigilJSON.encode($0), context: Self.context(session: $0.id)))
            },
            events: try batch.events.map {
                ByteBuffer(
                    bytes: try sealer.seal(VigilJSON.encode($0.data), context: Self.context(events: batch.sessionID)))
            },
            outbox: try batch.outbox.map {
                (
                    body: Data(try sealer.seal($0.body, context: Self.context(outbox: $0.id))),
                    targets: String(decoding: try VigilJSON.encode($0.targets), as: UTF8.self),
                    webhookIDs: String(decoding: try VigilJSON.encode($0.webhookIDs), as: UTF8.self)
                )
            })
        return try await withCheckedThrowingContinuation { cont in
            let start = writes.withLock { w -> Bool in
                w.queue.append(QueuedBatch(batch: prepared, caller: cont, queuedAt: .now))
                if w.writing { return false }
                w.writing = true
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    /// Writes queued batches, up to `maxGroup` per transaction, until the queue is empty.
    ///
    /// The call deadline counts from `commit`, queueing included: a batch that already waited it out fails,
    /// unwritten, and a group gets only what its oldest batch has left. So while the database is away every
    /// commit still answers within about `callTimeout`, instead of queueing behind groups that each wait theirs.
    private func drain() async {
        let limit = configuration.callTimeout
        while true {
            let work = writes.withLock { w -> [QueuedBatch] in
                let taken = Array(w.queue.prefix(Self.maxGroup))
                w.queue.removeFirst(taken.count)
                if taken.isEmpty { w.writing = false }
                return taken
            }
            if work.isEmpty { return }
            let now = ContinuousClock.now
            let expired = work.filter { now - $0.queuedAt >= limit - .milliseconds(20) }
            let live = work.filter { now - $0.queuedAt < limit - .milliseconds(20) }
            for w in expired {
                w.caller.resume(
                    throwing: VigilError.unavailable(
                        "the database did not take the write within \(PostgresStoreConfiguration.millis(limit)) ms"))
            }
            guard let oldest = live.map(\.queuedAt).min() else { continue }
            let deadline = oldest + limit
            var results: [Result<[StoredEvent], any Error>]
            do {
                results = try await writeGroup(live.map(\.batch), until: deadline)
            } catch {
                let mapped = Self.map(error)
                results = live.map { _ in .failure(mapped) }
            }
            if let f = listener.withLock({ $0 }) {
                let all = results.flatMap { r -> [StoredEvent] in (try? r.get()) ?? [] }
                if !all.isEmpty { f(all) }
            }
            for (i, w) in live.enumerated() { w.caller.resume(with: results[i]) }
        }
    }

    /// A batch of a group was refused (a conflict, a duplicate): the group is written again, in savepoints.
    struct GroupRefused: Error {}

    /// One transaction for a group of batches. Optimistically without savepoints (three times fewer round trips);
    /// when the server refuses one batch, the group is written again with each batch in its own savepoint, so that
    /// only the refused one fails. An error of the connection fails the whole group at once.
    private func writeGroup(_ batches: [PreparedBatch], until deadline: ContinuousClock.Instant) async throws
        -> [Result<[StoredEvent], any Error>]
    {
        if batches.count > 1 {
            do {
                return try await writeGroup(batches, savepoints: false, until: deadline)
            } catch is GroupRefused {
                return try await writeGroup(batches, savepoints: true, until: deadline)
            }
        }
        return try await writeGroup(batches, savepoints: false, until: deadline)
    }

    private func writeGroup(_ batches: [PreparedBatch], savepoints: Bool, until deadline: ContinuousClock.Instant)
        async throws -> [Result<[StoredEvent], any Error>]
    {
        let quiet = self.quiet
        let left = max(deadline - .now, .milliseconds(20))
        return try await transaction("commit", timeout: left) { conn in
            let optimistic = batches.count > 1 && !savepoints
            var failures: [Int: any Error] = [:]
            for (i, b) in batches.enumerated() {
                if savepoints { _ = try await conn.query("SAVEPOINT vigil_batch", logger: quiet).collect() }
                do {
                    try await Self.writeRows(b, conn, logger: quiet)
                    if savepoints {
                        _ = try await conn.query("RELEASE SAVEPOINT vigil_batch", logger: quiet).collect()
                    }
                } catch {
                    let refused = error is VigilError || (error as? PSQLError)?.serverInfo != nil
                    if optimistic && refused { throw GroupRefused() }
                    guard savepoints else { throw error }
                    _ = try await conn.query("ROLLBACK TO SAVEPOINT vigil_batch", logger: quiet).collect()
                    failures[i] = Self.map(error)
                }
            }
            // The sequence numbers come from a one-row counter updated inside this transaction, not from a
            // PostgreSQL sequence: a sequence numbers at insert, so a transaction that took 7 and commits after
            // the one that took 8 would let a reader resume past 7 and never see it. The counter's row lock is
            // held until commit, so commits that append events are serialized and each sees the last committed
            // number: `seq` is gap-free in commit order across every instance. That is also why the counter is
            // taken last, after the compare-and-set and the outbox, once for the whole group, and in one
            // statement with the inserts and the wake-up: the lock is held for as short a time as possible.
            var sids: [String] = []
            var types: [String] = []
            var ats: [Int64] = []
            var data: [ByteBuffer] = []
            for (i, b) in batches.enumerated() where failures[i] == nil {
                for (k, e) in b.batch.events.enumerated() {
                    sids.append(b.batch.sessionID?.rawValue ?? "")
                    types.append(e.type.rawValue)
                    ats.append(e.at.millis)
                    data.append(b.events[k])
                }
            }
            var next: Int64 = 0
            if !types.isEmpty {
                let n = Int64(types.count)
                let rows = try await conn.query(
                    """
                    WITH s AS (UPDATE event_seq SET last = last + \(n) WHERE one RETURNING last),
                    i AS (INSERT INTO events (seq, session_id, type, at, data)
                        SELECT s.last - \(n) + u.ord, nullif(u.sid, ''), u.t, u.a, u.d
                        FROM s, unnest(\(sids)::text[], \(types)::text[], \(ats)::bigint[], \(data)::bytea[])
                            WITH ORDINALITY AS u(sid, t, a, d, ord))
                    SELECT s.last, pg_notify('vigil_events', s.last::text) IS NULL FROM s
                    """, logger: quiet
                ).collect()
                guard let row = rows.first, rows.count == 1 else {
                    throw VigilError(.internalError, "the event counter is missing")
                }
                next = try row.decode((Int64, Bool).self).0 - n + 1
            }
            var results: [Result<[StoredEvent], any Error>] = []
            for (i, b) in batches.enumerated() {
                if let failure = failures[i] {
                    results.append(.failure(failure))
                    continue
                }
                var stored: [StoredEvent] = []
                for e in b.batch.events {
                    stored.append(
                        StoredEvent(seq: next, sessionID: b.batch.sessionID, type: e.type, at: e.at, data: e.data))
                    next += 1
                }
                results.append(.success(stored))
            }
            return results
        }
    }

    /// A batch's rows but its events: the snapshot (compare-and-set), new notifications, outbox changes.
    private static func writeRows(_ p: PreparedBatch, _ conn: PostgresConnection, logger quiet: Logger) async throws {
        let batch = p.batch
        if let s = batch.session, let snapshot = p.snapshot {
            let version = Int64(s.version)
            let deadline = s.nextDeadline?.millis
            if let expected = batch.expectedVersion {
                let rows = try await conn.query(
                    """
                    UPDATE sessions SET version = \(version), state = \(s.state.rawValue), ended_at = \(s.endedAt?.millis),
                        due_at = \(deadline), snapshot = \(snapshot),
                        claim_owner = NULL, claim_incarnation = NULL, claim_until = NULL
                    WHERE id = \(s.id.rawValue) AND version = \(Int64(expected)) RETURNING 1
                    """, logger: quiet
                ).collect()
                if rows.count != 1 { throw VigilError.conflict("the session changed since it was read") }
            } else {
                _ = try await conn.query(
                    """
                    INSERT INTO sessions (id, version, state, started_at, ended_at, due_at, snapshot)
                    VALUES (\(s.id.rawValue), \(version), \(s.state.rawValue), \(s.startedAt.millis),
                        \(s.endedAt?.millis), \(deadline), \(snapshot))
                    """, logger: quiet
                ).collect()
            }
        }
        for (i, item) in batch.outbox.enumerated() {
            _ = try await conn.query(
                """
                INSERT INTO outbox (id, session_id, type, targets, webhook_ids, body, created_at, is_dispatch,
                    status, target_index, attempts, next_attempt_at)
                VALUES (\(item.id.rawValue), \(item.sessionID.rawValue), \(item.type.rawValue),
                    \(p.outbox[i].targets), \(p.outbox[i].webhookIDs), \(p.outbox[i].body), \(item.createdAt.millis),
                    \(item.isDispatch), \(item.status.rawValue), \(Int64(item.targetIndex)),
                    \(Int64(item.attempts)), \(item.nextAttemptAt.millis))
                """, logger: quiet
            ).collect()
        }
        for i in lockOrder(batch.outboxUpdates) {
            _ = try await apply(batch.outboxUpdates[i], conn, logger: quiet, releasing: false)
        }
    }

    /// The order in which to apply outbox updates: by row id (stable), so that two transactions touching the same
    /// rows lock them in the same order and cannot deadlock.
    static func lockOrder(_ updates: [OutboxUpdate]) -> [Int] {
        updates.indices.sorted { (updates[$0].id.rawValue, $0) < (updates[$1].id.rawValue, $1) }
    }

    /// Applies an outbox update; true when a row changed. `releasing` also gives up any claim on the row.
    static func apply(
        _ u: OutboxUpdate, _ conn: PostgresConnection, logger: Logger, releasing: Bool,
        owner: (String, Int64)? = nil
    ) async throws -> Bool {
        let rows = try await conn.query(
            """
            UPDATE outbox SET status = \(u.status.rawValue), target_index = \(Int64(u.targetIndex)),
                attempts = \(Int64(u.attempts)), next_attempt_at = \(u.nextAttemptAt.millis),
                owner = CASE WHEN \(releasing) THEN NULL ELSE owner END,
                incarnation = CASE WHEN \(releasing) THEN NULL ELSE incarnation END,
                lease_until = CASE WHEN \(releasing) THEN NULL ELSE lease_until END
            WHERE id = \(u.id.rawValue) AND (NOT \(u.onlyIfPending) OR status = 'pending')
                AND (\(owner == nil) OR (owner = \(owner?.0) AND incarnation = \(owner?.1)))
            RETURNING 1
            """, logger: logger
        ).collect()
        return !rows.isEmpty
    }

    /// Records attempts in one transaction, each only while pending (when asked), freeing any claim on the row.
    public func recordAttempts(_ updates: [OutboxUpdate]) async throws -> [Bool] {
        let quiet = self.quiet
        return try await transaction("record attempts") { conn in
            var out = [Bool](repeating: false, count: updates.count)
            for i in Self.lockOrder(updates) {
                // A claim for an attempt on the wire keeps its owner, so that a restart of the same instance can
                // find what it left in flight (`resendOrphans`); any other update gives the claim up.
                out[i] = try await Self.apply(updates[i], conn, logger: quiet, releasing: !updates[i].claim)
            }
            return out
        }
    }

    /// Records one attempt, only while pending (when asked), freeing any claim on the row.
    public func recordAttempt(_ update: OutboxUpdate) async throws -> Bool {
        let quiet = self.quiet
        return try await call("record attempt") { conn in
            try await Self.apply(update, conn, logger: quiet, releasing: true)
        }
    }

    // MARK: Reading

    /// Every session not ended, decoded on every core.
    public func openSessions() async throws -> [Session] {
        let quiet = self.quiet
        let blobs = try await call("open sessions") { conn in
            var out: [(String, Data)] = []
            for try await b in try await conn.query(
                "SELECT id, snapshot FROM sessions WHERE state <> 'ended'", logger: quiet
            ).decode((String, Data).self) {
                out.append(b)
            }
            return out
        }
        // Opening and decoding the snapshots is most of a restart: spread it over every core.
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, blobs.count / 1000))
        let size = (blobs.count + parts - 1) / parts
        return try await withThrowingTaskGroup(of: (Int, [Session]).self) { group in
            for part in 0..<parts {
                let slice = Array(blobs[min(part * size, blobs.count)..<min((part + 1) * size, blobs.count)])
                group.addTask { (part, try slice.map { try self.decodeSession($0) }) }
            }
            var results = [[Session]](repeating: [], count: parts)
            for try await (part, sessions) in group { results[part] = sessions }
            return results.flatMap { $0 }
        }
    }

    /// One session by id.
    public func session(_ id: SessionID) async throws -> Session? {
        let quiet = self.quiet
        let blob = try await call("session") { conn -> (String, Data)? in
            var found: (String, Data)?
            for try await b in try await conn.query(
                "SELECT id, snapshot FROM sessions WHERE id = \(id.rawValue)", logger: quiet
            ).decode((String, Data).self) {
                found = b
            }
            return found
        }
        return try blob.map { try decodeSession($0) }
    }

    /// Sessions matching a filter, newest first.
    public func sessions(_ filter: SessionFilter, limit: Int) async throws -> [Session] {
        let quiet = self.quiet
        let n = Self.limit(limit)
        let blobs = try await call("sessions") { conn -> [(String, Data)] in
            let q: PostgresQuery
            switch filter {
            case .open:
                q = "SELECT id, snapshot FROM sessions WHERE state <> 'ended' ORDER BY started_at DESC LIMIT \(n)"
            case .state(let s):
                q = "SELECT id, snapshot FROM sessions WHERE state = \(s.rawValue) ORDER BY started_at DESC LIMIT \(n)"
            case .all:
                q = "SELECT id, snapshot FROM sessions ORDER BY started_at DESC LIMIT \(n)"
            }
            var out: [(String, Data)] = []
            for try await b in try await conn.query(q, logger: quiet).decode((String, Data).self) { out.append(b) }
            return out
        }
        return try blobs.map { try decodeSession($0) }
    }

    /// A session's events in order.
    public func events(of id: SessionID) async throws -> [StoredEvent] {
        try await readEvents("events of a session") {
            "SELECT seq, session_id, type, at, data FROM events WHERE session_id = \(id.rawValue) ORDER BY seq"
        }
    }

    /// Events after a sequence number, in order: what a wake-up's reader fetches.
    public func events(after seq: Int64, limit: Int) async throws -> [StoredEvent] {
        let n = Self.limit(limit)
        return try await readEvents("events after") {
            "SELECT seq, session_id, type, at, data FROM events WHERE seq > \(seq) ORDER BY seq LIMIT \(n)"
        }
    }

    /// The last `seq` committed (0 for an empty log).
    public func lastSequence() async throws -> Int64 {
        let quiet = self.quiet
        return try await call("last sequence") { conn in
            var last: Int64 = 0
            for try await v in try await conn.query("SELECT last FROM event_seq", logger: quiet).decode(Int64.self) {
                last = v
            }
            return last
        }
    }

    /// Pending notifications due at `now`, oldest first, claimed or not: for a single instance (several use
    /// `claimDueNotifications`).
    public func dueNotifications(at now: Timestamp, limit: Int) async throws -> [OutboxItem] {
        let n = Self.limit(limit)
        return try await readOutbox("due notifications") {
            """
            SELECT \(unescaped: Self.outboxColumns) FROM outbox WHERE status = 'pending' AND next_attempt_at <= \(now.millis)
            ORDER BY next_attempt_at LIMIT \(n)
            """
        }
    }

    /// The oldest `nextAttemptAt` among pending notifications (the watchdog's view of the whole cluster).
    public func oldestPendingNotification() async throws -> Timestamp? {
        let quiet = self.quiet
        return try await call("oldest pending") { conn -> Timestamp? in
            var oldest: Int64?
            for try await v in try await conn.query(
                "SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending'", logger: quiet
            ).decode(Int64?.self) {
                oldest = v
            }
            return oldest.map { Timestamp(millis: $0) }
        }
    }

    public func pendingNotificationCount() async throws -> Int? {
        let quiet = self.quiet
        return try await call("pending count") { conn -> Int? in
            var count: Int64 = 0
            for try await v in try await conn.query(
                "SELECT count(*) FROM outbox WHERE status = 'pending'", logger: quiet
            ).decode(Int64.self) {
                count = v
            }
            return Int(count)
        }
    }

    /// Ids of open sessions whose stored deadline (`due_at`) is at or before `instant`.
    public func sessionsDue(before instant: Timestamp) async throws -> [SessionID] {
        let quiet = self.quiet
        return try await call("sessions due") { conn in
            var out: [SessionID] = []
            for try await id in try await conn.query(
                "SELECT id FROM sessions WHERE state <> 'ended' AND due_at <= \(instant.millis)", logger: quiet
            ).decode(String.self) {
                out.append(SessionID(rawValue: id))
            }
            return out
        }
    }

    /// Removes personal data from sessions ended before `instant` (snapshot, outbox bodies, personal events).
    public func purgeEnded(before instant: Timestamp) async throws -> Int {
        let quiet = self.quiet
        let blobs = try await call("ended sessions") { conn in
            var out: [(String, Data)] = []
            for try await b in try await conn.query(
                "SELECT id, snapshot FROM sessions WHERE state = 'ended' AND NOT purged AND ended_at < \(instant.millis)",
                logger: quiet
            ).decode((String, Data).self) {
                out.append(b)
            }
            return out
        }
        let purgedData = try VigilJSON.encode(JSONValue.object(["purged": true]))
        let purgedTypes = [
            EventType.checkInReceived, .escalationAcknowledged, .sessionEnded, .dispatchStatus, .smsReceived,
        ].map(\.rawValue)
        var purged = 0
        for blob in blobs {
            var s = try decodeSession(blob)
            s.caller = Caller()
            s.location = Location(address: "")
            s.notes = nil
            s.responders = nil
            s.followUp?.note = nil
            let snapshot = Data(try sealer.seal(VigilJSON.encode(s), context: Self.context(session: s.id)))
            let id = s.id.rawValue
            let empty = Data(try sealer.seal(purgedData, context: Self.context(events: s.id)))
            let changed = try await transaction("purge") { conn -> Bool in
                let rows = try await conn.query(
                    "UPDATE sessions SET snapshot = \(snapshot), purged = true WHERE id = \(id) AND NOT purged RETURNING 1",
                    logger: quiet
                ).collect()
                guard !rows.isEmpty else { return false }
                _ = try await conn.query(
                    "UPDATE outbox SET body = ''::bytea WHERE session_id = \(id)", logger: quiet
                ).collect()
                _ = try await conn.query(
                    "UPDATE events SET data = \(empty) WHERE session_id = \(id) AND type = ANY(\(purgedTypes))",
                    logger: quiet
                ).collect()
                return true
            }
            if changed { purged += 1 }
        }
        return purged
    }

    /// `SELECT 1` under the call deadline.
    public func ping() async throws {
        let quiet = self.quiet
        try await call("ping") { conn in _ = try await conn.query("SELECT 1", logger: quiet).collect() }
    }

    /// PostgreSQL's own clock (`clock_timestamp()`), to measure this instance's drift from it.
    public func databaseNow() async throws -> Timestamp {
        let quiet = self.quiet
        return try await call("database clock") { conn in
            var now: Int64 = 0
            for try await v in try await conn.query(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint", logger: quiet
            ).decode(Int64.self) {
                now = v
            }
            return Timestamp(millis: now)
        }
    }

    // MARK: Helpers

    /// Runs `body` on a pooled connection under the call deadline; at the deadline the connection is closed.
    func call<T: Sendable>(
        _ what: String, timeout: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let slot = ConnectionSlot()
        let client = self.client
        do {
            return try await Deadline.run(timeout ?? configuration.callTimeout, what: what, onTimeout: { slot.close() })
            {
                try await client.withConnection { conn in
                    slot.set(conn)
                    defer { slot.clear() }
                    return try await body(conn)
                }
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Runs `body` in a transaction under the call deadline. A connection whose rollback failed is closed, never
    /// handed back to the pool inside a transaction.
    func transaction<T: Sendable>(
        _ what: String, timeout: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let quiet = self.quiet
        return try await call(what, timeout: timeout) { conn in
            _ = try await conn.query("BEGIN", logger: quiet).collect()
            do {
                let value = try await body(conn)
                _ = try await conn.query("COMMIT", logger: quiet).collect()
                return value
            } catch {
                do {
                    _ = try await conn.query("ROLLBACK", logger: quiet).collect()
                } catch {
                    ConnectionSlot.close(conn)
                }
                throw error
            }
        }
    }

    static let outboxColumns = """
        id, session_id, type, targets, webhook_ids, body, created_at, is_dispatch, status, target_index, attempts,
        next_attempt_at
        """

    /// A limit PostgreSQL accepts: negative means none.
    static func limit(_ n: Int) -> Int64 { Int64(clamping: max(0, n)) }

    private func readEvents(_ what: String, _ query: @escaping @Sendable () -> PostgresQuery) async throws
        -> [StoredEvent]
    {
        let quiet = self.quiet
        let rows = try await call(what) { conn in
            var out: [(Int64, String?, String, Int64, Data)] = []
            for try await r in try await conn.query(query(), logger: quiet).decode(
                (Int64, String?, String, Int64, Data).self)
            {
                out.append(r)
            }
            return out
        }
        return try rows.map { seq, sid, type, at, data in
            StoredEvent(
                seq: seq, sessionID: sid.map { SessionID(rawValue: $0) },
                type: try EventType.stored(type), at: Timestamp(millis: at),
                data: try VigilJSON.decode(
                    JSONValue.self,
                    from: sealer.open(Array(data), context: Self.context(events: sid.map { SessionID(rawValue: $0) }))))
        }
    }

    typealias OutboxRow = (String, String, String, String, String, Data, Int64, Bool, String, Int64, Int64, Int64)

    func readOutbox(_ what: String, _ query: @escaping @Sendable () -> PostgresQuery) async throws -> [OutboxItem] {
        let quiet = self.quiet
        let rows = try await call(what) { conn in
            var out: [OutboxRow] = []
            for try await r in try await conn.query(query(), logger: quiet).decode(OutboxRow.self) { out.append(r) }
            return out
        }
        return try rows.map { try outboxItem($0) }
    }

    func outboxItem(_ r: OutboxRow) throws -> OutboxItem {
        let (id, sid, type, targets, webhooks, body, createdAt, isDispatch, status, targetIndex, attempts, next) = r
        var item = OutboxItem(
            id: NotificationID(rawValue: id), sessionID: SessionID(rawValue: sid),
            type: try EventType.stored(type),
            targets: try VigilJSON.decode([String].self, from: Array(targets.utf8)),
            webhookIDs: try VigilJSON.decode([String].self, from: Array(webhooks.utf8)),
            body: try sealer.open(Array(body), context: Self.context(outbox: NotificationID(rawValue: id))),
            createdAt: Timestamp(millis: createdAt), isDispatch: isDispatch)
        item.status = try OutboxStatus.stored(status)
        guard let t = Int(exactly: targetIndex), let a = Int(exactly: attempts) else {
            throw VigilError(.internalError, "an outbox row holds an impossible count")
        }
        item.targetIndex = t
        item.attempts = a
        item.nextAttemptAt = Timestamp(millis: next)
        return item
    }

    private func decodeSession(_ row: (String, Data)) throws -> Session {
        try VigilJSON.decode(
            Session.self,
            from: sealer.open(Array(row.1), context: Self.context(session: SessionID(rawValue: row.0))))
    }

    // Each blob is bound to where it lives (the same contexts as on SQLite): one copied into another row or table
    // does not open.
    static func context(session id: SessionID) -> String { "sessions:" + id.rawValue }
    static func context(events id: SessionID?) -> String { "events:" + (id?.rawValue ?? "-") }
    static func context(outbox id: NotificationID) -> String { "outbox:" + id.rawValue }

    /// Maps postgres-nio's errors to Vigil's, naming no value: a full disk says so, a duplicate is a conflict,
    /// anything else is "unavailable".
    static func map(_ error: any Error) -> any Error {
        if let v = error as? VigilError { return v }
        if error is CancellationError || error is GroupRefused { return error }
        if let p = error as? PSQLError {
            if let state = p.serverInfo?[.sqlState] {
                switch state {
                case "28P01", "28000":
                    return VigilError.unavailable(
                        "PostgreSQL refused the login (SQLSTATE \(state)): check the user, its password and pg_hba.conf"
                    )
                case "3D000":
                    return VigilError.unavailable("the PostgreSQL database does not exist (SQLSTATE 3D000)")
                case "23505":
                    return VigilError.conflict("the row already exists")
                case "53100":
                    return VigilError(.storageFull, "the database disk is full; nothing was written")
                case "57014":
                    return VigilError.unavailable("the database cancelled a statement that ran too long")
                case "25P03":
                    return VigilError.unavailable("the database ended a transaction left idle too long")
                default:
                    return VigilError.unavailable("the database refused a statement (SQLSTATE \(state))")
                }
            }
            return VigilError.unavailable("the database connection failed (\(p.code))")
        }
        if error is PostgresDecodingError {
            return VigilError(.internalError, "a stored value has an unexpected type")
        }
        return VigilError.unavailable("the database failed (\(type(of: error)))")
    }
}
