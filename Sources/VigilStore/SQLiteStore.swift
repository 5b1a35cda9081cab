import Foundation
import GRDB
import Synchronization
import VigilCore

/// The SQLite `SessionStore`: an append-only event log, one snapshot row per session and the outbox, in WAL mode
/// with `synchronous=FULL`. Concurrent commits are grouped into one transaction (group commit).
public final class SQLiteStore: SessionStore, Sendable {
    let pool: DatabasePool
    let sealer: (any DataSealer)?
    let pending = Mutex<PendingWrites>(PendingWrites())
    let listener = CommitListener()

    /// Calls `f` with the events of every commit, in sequence order, before the committers are answered.
    public func onCommit(_ f: @escaping @Sendable ([StoredEvent]) -> Void) { listener.set(f) }

    struct PendingWrites {
        var queue: [(prepared: [Prepared], waiter: Waiter)] = []
        var writing = false
    }

    /// Who waits for queued batches: one committer, or a group that gets every batch's result at once.
    enum Waiter: Sendable {
        case one(CheckedContinuation<[StoredEvent], any Error>)
        case group(CheckedContinuation<[Result<[StoredEvent], any Error>], Never>)
    }

    /// A batch with every blob already encoded and sealed, so the single writer only runs SQL.
    struct Prepared: Sendable {
        var batch: CommitBatch
        var snapshot: Data?
        var events: [Data]
        /// Each event's `data_sha256`.
        var digests: [[UInt8]]
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
        self.sealer = sealer
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(pool)
            // Events written before the chain existed are chained now, before any new one follows them.
            _ = try pool.write { db in try self.chainUnchained(db) }
        } catch let e as DatabaseError {
            throw Self.map(e)
        }
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
        m.registerMigration("v4: failover clock") { db in
            // When the first attempt on a row's current target was claimed: a dispatch target's failover time counts
            // from there, across restarts.
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN target_since INTEGER")
        }
        m.registerMigration("v5: unreadable rows set aside", migrate: Self.migrateQuarantine)
        m.registerMigration("v6: idempotency keys and fresh links", migrate: Self.migrateIdempotency)
        m.registerMigration("v9: the event log chained", migrate: Self.migrateChain)
        m.registerMigration("v10: last moment alive", migrate: Self.migrateAlive)
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
        await CommitBatch.commitEach(batches, prepare: prepare) { prepared in
            await withCheckedContinuation { cont in enqueue(prepared, .group(cont)) }
        }
    }

    func enqueue(_ prepared: [Prepared], _ waiter: Waiter) {
        let start = pending.withLock { p -> Bool in
            p.queue.append((prepared, waiter))
            if p.writing { return false }
            p.writing = true
            return true
        }
        if start { Task.detached { await self.drain() } }
    }

    func prepare(_ batch: CommitBatch) throws -> Prepared {
        Prepared(
            batch: batch,
            snapshot: try batch.session.map { Data(try seal(VigilJSON.encode($0), Self.context(session: $0.id))) },
            events: try batch.events.map {
                Data(try seal(VigilJSON.encode($0.data), Self.context(events: batch.sessionID)))
            },
            digests: try batch.events.map { try AuditChain.dataDigest($0.data) },
            outbox: try batch.outbox.map {
                (
                    Data(try seal($0.body, Self.context(outbox: $0.id))),
                    String(decoding: try VigilJSON.encode($0.targets), as: UTF8.self),
                    String(decoding: try VigilJSON.encode($0.webhookIDs), as: UTF8.self)
                )
            })
    }

    /// Writes every queued batch in one transaction, each in its own savepoint, until the queue is empty.
    func drain() async {
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
                    var chain = try self.chainTip(db)
                    for b in batches {
                        var events: [StoredEvent] = []
                        let before = chain
                        do {
                            try db.inSavepoint {
                                events = try self.apply(b, db, chain: &chain)
                                return .commit
                            }
                            out.append(.success(events))
                        } catch {
                            chain = before
                            out.append(.failure(Self.map(error)))
                        }
                    }
                    return out
                }
            } catch {
                let mapped = Self.map(error)
                results = batches.map { _ in .failure(mapped) }
            }
            if listener.isSet {
                let all = results.flatMap { r -> [StoredEvent] in (try? r.get()) ?? [] }
                if !all.isEmpty { listener.notify(all) }
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

    /// Writes one prepared batch; its events are numbered and chained on from `chain`, which it advances.
    func apply(_ p: Prepared, _ db: Database, chain: inout (seq: Int64, hash: [UInt8])) throws -> [StoredEvent] {
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
            let seq = chain.seq + 1
            let hash = AuditChain.link(
                previous: chain.hash, seq: seq, type: e.type.rawValue, at: e.at.rfc3339,
                sessionID: b.sessionID?.rawValue, dataSHA256: p.digests[i])
            try db.cachedStatement(
                sql:
                    "INSERT INTO events (seq, session_id, type, at, data, data_sha256, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ).execute(
                arguments: [
                    seq, b.sessionID?.rawValue, e.type.rawValue, e.at.millis, p.events[i], Data(p.digests[i]),
                    Data(hash),
                ])
            chain = (seq, hash)
            stored.append(StoredEvent(seq: seq, sessionID: b.sessionID, type: e.type, at: e.at, data: e.data))
        }
        for (i, item) in b.outbox.enumerated() {
            try db.cachedStatement(
                sql: """
                    INSERT INTO outbox (id, session_id, type, targets, webhook_ids, body, created_at, is_dispatch,
                        status, target_index, attempts, next_attempt_at, target_since)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [
                    item.id.rawValue, item.sessionID.rawValue, item.type.rawValue, p.outbox[i].targets,
                    p.outbox[i].webhookIDs, p.outbox[i].body, item.createdAt.millis, item.isDispatch,
                    item.status.rawValue, item.targetIndex, item.attempts, item.nextAttemptAt.millis,
                    item.targetSince?.millis,
                ])
        }
        for u in b.outboxUpdates { try Self.apply(u, db) }
        return stored
    }

    static func apply(_ u: OutboxUpdate, _ db: Database) throws {
        let guardClause = u.onlyIfPending ? " AND status = 'pending'" : ""
        try db.cachedStatement(
            sql: "UPDATE outbox SET status = ?, target_index = ?, attempts = ?, next_attempt_at = ?, in_flight = ?, "
                + "target_since = ? WHERE id = ?" + guardClause
        ).execute(
            arguments: [
                u.status.rawValue, u.targetIndex, u.attempts, u.nextAttemptAt.millis, u.claim ? 1 : 0,
                u.targetSince?.millis, u.id.rawValue,
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
}
