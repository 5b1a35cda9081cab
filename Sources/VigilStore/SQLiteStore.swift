import Foundation
import GRDB
import Synchronization
import VigilCore

/// The SQLite `SessionStore`: an append-only event log, one snapshot row per session and the outbox, in WAL mode
/// with `synchronous=FULL`. Concurrent commits are grouped into one transaction (group commit).
public final class SQLiteStore: SessionStore, Sendable {
    let pool: DatabasePool
    private let sealer: (any DataSealer)?
    private let pending = Mutex<PendingWrites>(PendingWrites())
    private let listener = Mutex<(@Sendable ([StoredEvent]) -> Void)?>(nil)

    /// Calls `f` with the events of every commit, in sequence order, before the committers are answered.
    public func onCommit(_ f: @escaping @Sendable ([StoredEvent]) -> Void) { listener.withLock { $0 = f } }

    private struct PendingWrites {
        var queue: [(prepared: [Prepared], waiter: Waiter)] = []
        var writing = false
    }

    /// Who waits for queued batches: one committer, or a group that gets every batch's result at once.
    private enum Waiter: Sendable {
        case one(CheckedContinuation<[StoredEvent], any Error>)
        case group(CheckedContinuation<[Result<[StoredEvent], any Error>], Never>)
    }

    /// A batch with every blob already encoded and sealed, so the single writer only runs SQL.
    struct Prepared: Sendable {
        var batch: CommitBatch
        var snapshot: Data?
        var events: [Data]
        var outbox: [(body: Data, targets: String, webhookIDs: String)]
    }

    /// Opens (creating if needed) the database at `path` and migrates it.
    ///
    /// Throws a `VigilError` naming the problem when the directory is missing or not writable.
    public init(path: String, sealer: (any DataSealer)?) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
                // Create the data directory itself, never a missing parent: a mistyped path is an error, not a
                // new tree somewhere unexpected.
                let parent = (dir as NSString).deletingLastPathComponent
                if !parent.isEmpty && !FileManager.default.fileExists(atPath: parent) {
                    throw VigilError.unavailable("the data directory \(dir) is missing and so is its parent \(parent)")
                }
                do {
                    try FileManager.default.createDirectory(
                        atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                } catch {
                    throw VigilError.unavailable(
                        "cannot create the data directory \(dir): \(error.localizedDescription)")
                }
            } else if !isDir.boolValue {
                throw VigilError.unavailable("the data directory \(dir) is not a directory")
            }
            if !FileManager.default.isWritableFile(atPath: dir) {
                throw VigilError.unavailable("the data directory \(dir) is not writable")
            }
        }
        var config = GRDB.Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        config.busyMode = .timeout(5)
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(pool)
        } catch let e as DatabaseError {
            throw Self.map(e)
        }
        self.sealer = sealer
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sessions (
                        id TEXT PRIMARY KEY NOT NULL,
                        version INTEGER NOT NULL,
                        state TEXT NOT NULL,
                        started_at INTEGER NOT NULL,
                        ended_at INTEGER,
                        next_deadline INTEGER,
                        purged INTEGER NOT NULL DEFAULT 0,
                        snapshot BLOB NOT NULL
                    );
                    CREATE INDEX sessions_deadline ON sessions(next_deadline) WHERE state != 'ended';
                    CREATE INDEX sessions_state ON sessions(state, started_at);
                    CREATE TABLE events (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        session_id TEXT,
                        type TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        data BLOB NOT NULL
                    );
                    CREATE INDEX events_session ON events(session_id, seq);
                    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
                        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
                    CREATE TRIGGER events_append_only_update BEFORE UPDATE OF seq, session_id, type, at ON events
                        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
                    CREATE TABLE outbox (
                        id TEXT PRIMARY KEY NOT NULL,
                        session_id TEXT NOT NULL,
                        type TEXT NOT NULL,
                        targets TEXT NOT NULL,
                        webhook_ids TEXT NOT NULL,
                        body BLOB NOT NULL,
                        created_at INTEGER NOT NULL,
                        is_dispatch INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        target_index INTEGER NOT NULL,
                        attempts INTEGER NOT NULL,
                        next_attempt_at INTEGER NOT NULL
                    );
                    CREATE INDEX outbox_pending ON outbox(next_attempt_at) WHERE status = 'pending';
                    CREATE INDEX outbox_session ON outbox(session_id);
                    """)
        }
        m.registerMigration("v2: in-flight claims") { db in
            // Marks a row claimed for an attempt on the wire, so a restart can resend what a crash left in flight.
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0")
        }
        m.registerMigration("v3: response plans", migrate: Self.migratePlans)
        return m
    }

    // MARK: Writing

    public func commit(_ batch: CommitBatch) async throws -> [StoredEvent] {
        // Seal outside the writer so encryption does not lengthen the transaction.
        let prepared = try prepare(batch)
        return try await withCheckedThrowingContinuation { cont in enqueue([prepared], .one(cont)) }
    }

    /// Writes the batches in one transaction (each in its own savepoint, so one failing fails alone), sharing the
    /// group commit with whatever else is queued.
    public func commitAll(_ batches: [CommitBatch]) async -> [Result<[StoredEvent], any Error>] {
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
        let results = await withCheckedContinuation { cont in enqueue(prepared, .group(cont)) }
        for (k, i) in positions.enumerated() where k < results.count { out[i] = results[k] }
        return out
    }

    private func enqueue(_ prepared: [Prepared], _ waiter: Waiter) {
        let start = pending.withLock { p -> Bool in
            p.queue.append((prepared, waiter))
            if p.writing { return false }
            p.writing = true
            return true
        }
        if start { Task.detached { await self.drain() } }
    }

    private func prepare(_ batch: CommitBatch) throws -> Prepared {
        Prepared(
            batch: batch,
            snapshot: try batch.session.map { Data(try seal(VigilJSON.encode($0), Self.context(session: $0.id))) },
            events: try batch.events.map {
                Data(try seal(VigilJSON.encode($0.data), Self.context(events: batch.sessionID)))
            },
            outbox: try batch.outbox.map {
                (
                    Data(try seal($0.body, Self.context(outbox: $0.id))),
                    String(decoding: try VigilJSON.encode($0.targets), as: UTF8.self),
                    String(decoding: try VigilJSON.encode($0.webhookIDs), as: UTF8.self)
                )
            })
    }

    /// Writes every queued batch in one transaction, each in its own savepoint, until the queue is empty.
    private func drain() async {
        while true {
            let work = pending.withLock { p -> [(prepared: [Prepared], waiter: Waiter)] in
                let w = p.queue
                p.queue = []
                if w.isEmpty { p.writing = false }
                return w
            }
            if work.isEmpty { return }
            let batches = work.flatMap(\.prepared)
            var results: [Result<[StoredEvent], any Error>] = []
            do {
                results = try await pool.write { db in
                    var out: [Result<[StoredEvent], any Error>] = []
                    for b in batches {
                        var events: [StoredEvent] = []
                        do {
                            try db.inSavepoint {
                                events = try self.apply(b, db)
                                return .commit
                            }
                            out.append(.success(events))
                        } catch {
                            out.append(.failure(Self.map(error)))
                        }
                    }
                    return out
                }
            } catch {
                let mapped = Self.map(error)
                results = batches.map { _ in .failure(mapped) }
            }
            if let f = listener.withLock({ $0 }) {
                let all = results.flatMap { r -> [StoredEvent] in (try? r.get()) ?? [] }
                if !all.isEmpty { f(all) }
            }
            var next = 0
            for w in work {
                let mine = Array(results[next..<(next + w.prepared.count)])
                next += w.prepared.count
                switch w.waiter {
                case .one(let cont): cont.resume(with: mine[0])
                case .group(let cont): cont.resume(returning: mine)
                }
            }
        }
    }

    private func apply(_ p: Prepared, _ db: Database) throws -> [StoredEvent] {
        let b = p.batch
        if let s = b.session, let snapshot = p.snapshot {
            let deadline = s.nextDeadline?.millis
            if let expected = b.expectedVersion {
                try db.cachedStatement(
                    sql: """
                        UPDATE sessions SET version = ?, state = ?, ended_at = ?, next_deadline = ?, snapshot = ?
                        WHERE id = ? AND version = ?
                        """
                ).execute(
                    arguments: [
                        s.version, s.state.rawValue, s.endedAt?.millis, deadline, snapshot, s.id.rawValue, expected,
                    ])
                if db.changesCount != 1 { throw VigilError.conflict("the session changed since it was read") }
            } else {
                try db.cachedStatement(
                    sql: """
                        INSERT INTO sessions (id, version, state, started_at, ended_at, next_deadline, snapshot)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """
                ).execute(
                    arguments: [
                        s.id.rawValue, s.version, s.state.rawValue, s.startedAt.millis, s.endedAt?.millis, deadline,
                        snapshot,
                    ])
            }
        }
        var stored: [StoredEvent] = []
        for (i, e) in b.events.enumerated() {
            try db.cachedStatement(
                sql: "INSERT INTO events (session_id, type, at, data) VALUES (?, ?, ?, ?)"
            ).execute(
                arguments: [b.sessionID?.rawValue, e.type.rawValue, e.at.millis, p.events[i]])
            stored.append(
                StoredEvent(
                    seq: db.lastInsertedRowID, sessionID: b.sessionID, type: e.type, at: e.at, data: e.data))
        }
        for (i, item) in b.outbox.enumerated() {
            try db.cachedStatement(
                sql: """
                    INSERT INTO outbox (id, session_id, type, targets, webhook_ids, body, created_at, is_dispatch,
                        status, target_index, attempts, next_attempt_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [
                    item.id.rawValue, item.sessionID.rawValue, item.type.rawValue, p.outbox[i].targets,
                    p.outbox[i].webhookIDs, p.outbox[i].body, item.createdAt.millis, item.isDispatch,
                    item.status.rawValue, item.targetIndex, item.attempts, item.nextAttemptAt.millis,
                ])
        }
        for u in b.outboxUpdates { try Self.apply(u, db) }
        return stored
    }

    private static func apply(_ u: OutboxUpdate, _ db: Database) throws {
        let guardClause = u.onlyIfPending ? " AND status = 'pending'" : ""
        try db.cachedStatement(
            sql: "UPDATE outbox SET status = ?, target_index = ?, attempts = ?, next_attempt_at = ?, in_flight = ? "
                + "WHERE id = ?" + guardClause
        ).execute(
            arguments: [
                u.status.rawValue, u.targetIndex, u.attempts, u.nextAttemptAt.millis, u.claim ? 1 : 0, u.id.rawValue,
            ])
    }

    /// On SQLite this process is the only instance: every row still marked in flight was left by a crash of an
    /// earlier incarnation, and is due again now rather than when its attempt's lease would have run out.
    public func releaseOrphanedClaims(at now: Timestamp) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE outbox SET next_attempt_at = ?, in_flight = 0 WHERE status = 'pending' AND in_flight = 1",
                arguments: [now.millis])
            return db.changesCount
        }
    }

    public func recordAttempts(_ updates: [OutboxUpdate]) async throws -> [Bool] {
        do {
            return try await pool.write { db in
                try updates.map { u in
                    try Self.apply(u, db)
                    return db.changesCount > 0
                }
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func recordAttempt(_ update: OutboxUpdate) async throws -> Bool {
        do {
            return try await pool.write { db in
                try Self.apply(update, db)
                return db.changesCount > 0
            }
        } catch {
            throw Self.map(error)
        }
    }

    // MARK: Reading

    public func openSessions() async throws -> [Session] {
        let blobs = try await read { db in
            try Row.fetchAll(db, sql: "SELECT id, snapshot FROM sessions WHERE state != 'ended'").map {
                (id: $0["id"] as String, snapshot: $0["snapshot"] as Data)
            }
        }
        // Opening and decoding the snapshots is most of a restart: spread it over every core.
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, blobs.count / 1000))
        let size = (blobs.count + parts - 1) / max(parts, 1)
        return try await withThrowingTaskGroup(of: (Int, [Session]).self) { group in
            for part in 0..<parts {
                let slice = Array(blobs[min(part * size, blobs.count)..<min((part + 1) * size, blobs.count)])
                group.addTask {
                    (
                        part,
                        try slice.map {
                            try VigilJSON.decode(
                                Session.self,
                                from: self.unseal(Array($0.snapshot), Self.context(session: SessionID(rawValue: $0.id)))
                            )
                        }
                    )
                }
            }
            var results = [[Session]](repeating: [], count: parts)
            for try await (part, sessions) in group { results[part] = sessions }
            return results.flatMap { $0 }
        }
    }

    public func session(_ id: SessionID) async throws -> Session? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT id, snapshot FROM sessions WHERE id = ?", arguments: [id.rawValue]).map {
                try self.session(from: $0)
            }
        }
    }

    public func sessions(_ filter: SessionFilter, limit: Int) async throws -> [Session] {
        try await read { db in
            let rows: [Row]
            switch filter {
            case .open:
                rows = try Row.fetchAll(
                    db,
                    sql: "SELECT id, snapshot FROM sessions WHERE state != 'ended' ORDER BY started_at DESC LIMIT ?",
                    arguments: [limit])
            case .state(let s):
                rows = try Row.fetchAll(
                    db, sql: "SELECT id, snapshot FROM sessions WHERE state = ? ORDER BY started_at DESC LIMIT ?",
                    arguments: [s.rawValue, limit])
            case .all:
                rows = try Row.fetchAll(
                    db, sql: "SELECT id, snapshot FROM sessions ORDER BY started_at DESC LIMIT ?", arguments: [limit])
            }
            return try rows.map { try self.session(from: $0) }
        }
    }

    public func events(of id: SessionID) async throws -> [StoredEvent] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT seq, session_id, type, at, data FROM events WHERE session_id = ? ORDER BY seq",
                arguments: [id.rawValue]
            ).map { try self.event(from: $0) }
        }
    }

    public func events(after seq: Int64, limit: Int) async throws -> [StoredEvent] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT seq, session_id, type, at, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                arguments: [seq, limit]
            ).map { try self.event(from: $0) }
        }
    }

    public func dueNotifications(at now: Timestamp, limit: Int) async throws -> [OutboxItem] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?
                    ORDER BY next_attempt_at LIMIT ?
                    """, arguments: [now.millis, limit]
            ).map { try self.outboxItem(from: $0) }
        }
    }

    /// Every notification, oldest first (for `vigil migrate`).
    public func allNotifications() async throws -> [OutboxItem] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY created_at, id").map {
                try self.outboxItem(from: $0)
            }
        }
    }

    public func oldestPendingNotification() async throws -> Timestamp? {
        try await read { db in
            try Int64.fetchOne(db, sql: "SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending'").map {
                Timestamp(millis: $0)
            }
        }
    }

    public func pendingNotificationCount() async throws -> Int? {
        try await read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox WHERE status = 'pending'") }
    }

    public func sessionsDue(before instant: Timestamp) async throws -> [SessionID] {
        try await read { db in
            try String.fetchAll(
                db, sql: "SELECT id FROM sessions WHERE state != 'ended' AND next_deadline <= ?",
                arguments: [instant.millis]
            ).map { SessionID(rawValue: $0) }
        }
    }

    public func purgeEnded(before instant: Timestamp) async throws -> Int {
        let rows = try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, snapshot FROM sessions WHERE state = 'ended' AND purged = 0 AND ended_at < ?",
                arguments: [instant.millis]
            ).map { try self.session(from: $0) }
        }
        for var s in rows {
            s.caller = Caller()
            s.location = Location(address: "")
            s.notes = nil
            s.responders = nil
            s.followUp?.note = nil
            let snapshot = try seal(VigilJSON.encode(s), Self.context(session: s.id))
            let id = s.id.rawValue
            do {
                try await pool.write { db in
                    try db.execute(
                        sql: "UPDATE sessions SET snapshot = ?, purged = 1 WHERE id = ?",
                        arguments: [Data(snapshot), id])
                    try db.execute(
                        sql: "UPDATE outbox SET body = X'' WHERE session_id = ?", arguments: [id])
                    let empty = try Data(
                        self.seal(
                            VigilJSON.encode(JSONValue.object(["purged": true])),
                            Self.context(events: SessionID(rawValue: id))))
                    try db.execute(
                        sql: "UPDATE events SET data = ? WHERE session_id = ? AND type IN (?, ?, ?, ?, ?)",
                        arguments: [
                            empty, id, EventType.checkInReceived.rawValue,
                            EventType.escalationAcknowledged.rawValue, EventType.sessionEnded.rawValue,
                            EventType.dispatchStatus.rawValue, EventType.smsReceived.rawValue,
                        ])
                }
            } catch {
                throw Self.map(error)
            }
        }
        return rows.count
    }

    public func ping() async throws {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Helpers

    private func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.map(error)
        }
    }

    func seal(_ bytes: [UInt8], _ context: String) throws -> [UInt8] {
        guard let sealer else { return bytes }
        return try sealer.seal(bytes, context: context)
    }

    func unseal(_ bytes: [UInt8], _ context: String) throws -> [UInt8] {
        guard let sealer else { return bytes }
        return try sealer.open(bytes, context: context)
    }

    /// Opens every sealed blob with this store's sealer and seals it again with `sealer`, in one transaction.
    public func reseal(with sealer: any DataSealer) async throws -> Int {
        do {
            return try await pool.write { db in
                var count = 0
                count += try self.resealRows(db, table: "sessions", column: "snapshot", with: sealer) {
                    Self.context(session: SessionID(rawValue: $0))
                }
                let events = try Row.fetchCursor(db, sql: "SELECT seq, session_id, data FROM events")
                var updates: [(Int64, Data)] = []
                while let row = try events.next() {
                    let sid: String? = row["session_id"]
                    let context = Self.context(events: sid.map { SessionID(rawValue: $0) })
                    let plain = try self.unseal(Array(row["data"] as Data), context)
                    updates.append((row["seq"], Data(try sealer.seal(plain, context: context))))
                }
                for (seq, data) in updates {
                    // The append-only triggers guard identity columns; the sealed data may be re-sealed.
                    try db.execute(sql: "UPDATE events SET data = ? WHERE seq = ?", arguments: [data, seq])
                }
                count += updates.count
                count += try self.resealRows(db, table: "outbox", column: "body", with: sealer) {
                    Self.context(outbox: NotificationID(rawValue: $0))
                }
                return count
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Re-seals `column` of every row of `table` (keyed by `id`), each under its own context.
    private func resealRows(
        _ db: Database, table: String, column: String, with sealer: any DataSealer, context: (String) -> String
    ) throws -> Int {
        var count = 0
        for row in try Row.fetchAll(db, sql: "SELECT id, \(column) AS blob FROM \(table)") {
            let id: String = row["id"]
            let plain = try unseal(Array(row["blob"] as Data), context(id))
            // An emptied (purged) body stays empty.
            let sealed = plain.isEmpty ? [] : try sealer.seal(plain, context: context(id))
            try db.execute(sql: "UPDATE \(table) SET \(column) = ? WHERE id = ?", arguments: [Data(sealed), id])
            count += 1
        }
        return count
    }

    /// Where a snapshot lives: a blob sealed for one session does not open as another's.
    static func context(session id: SessionID) -> String { "sessions:" + id.rawValue }
    /// Where a session's event data lives.
    static func context(events id: SessionID?) -> String { "events:" + (id?.rawValue ?? "-") }
    /// Where a notification's body lives.
    static func context(outbox id: NotificationID) -> String { "outbox:" + id.rawValue }

    private func session(from row: Row) throws -> Session {
        let data: Data = row["snapshot"]
        let id: String = row["id"]
        return try VigilJSON.decode(
            Session.self, from: unseal(Array(data), Self.context(session: SessionID(rawValue: id))))
    }

    private func event(from row: Row) throws -> StoredEvent {
        let data: Data = row["data"]
        let sid: String? = row["session_id"]
        let type: String = row["type"]
        return StoredEvent(
            seq: row["seq"], sessionID: sid.map { SessionID(rawValue: $0) },
            type: try EventType.stored(type), at: Timestamp(millis: row["at"]),
            data: try VigilJSON.decode(
                JSONValue.self, from: unseal(Array(data), Self.context(events: sid.map { SessionID(rawValue: $0) }))))
    }

    private func outboxItem(from row: Row) throws -> OutboxItem {
        let targets: String = row["targets"]
        let webhooks: String = row["webhook_ids"]
        let body: Data = row["body"]
        let type: String = row["type"]
        let status: String = row["status"]
        var item = OutboxItem(
            id: NotificationID(rawValue: row["id"]), sessionID: SessionID(rawValue: row["session_id"]),
            type: try EventType.stored(type),
            targets: try VigilJSON.decode([String].self, from: Array(targets.utf8)),
            webhookIDs: try VigilJSON.decode([String].self, from: Array(webhooks.utf8)),
            body: try unseal(Array(body), Self.context(outbox: NotificationID(rawValue: row["id"]))),
            createdAt: Timestamp(millis: row["created_at"]),
            isDispatch: row["is_dispatch"])
        item.status = try OutboxStatus.stored(status)
        item.targetIndex = row["target_index"]
        item.attempts = row["attempts"]
        item.nextAttemptAt = Timestamp(millis: row["next_attempt_at"])
        return item
    }

    /// Maps SQLite's errors to Vigil's: a full disk says so; anything else is "unavailable".
    static func map(_ error: any Error) -> any Error {
        if let v = error as? VigilError { return v }
        if let d = error as? DatabaseError {
            switch d.resultCode {
            case .SQLITE_FULL:
                return VigilError(.storageFull, "the database disk is full; nothing was written")
            case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM:
                return VigilError.unavailable("the database cannot be written: \(d.resultCode)")
            case .SQLITE_IOERR:
                if d.extendedResultCode == .SQLITE_IOERR_WRITE || d.extendedResultCode == .SQLITE_IOERR_FSYNC {
                    return VigilError(.storageFull, "the database could not write to disk; nothing was written")
                }
                return VigilError.unavailable("the database had an I/O error: \(d.extendedResultCode)")
            default:
                return VigilError.unavailable("the database failed: \(d.resultCode)")
            }
        }
        return VigilError.unavailable("the database failed")
    }
}
