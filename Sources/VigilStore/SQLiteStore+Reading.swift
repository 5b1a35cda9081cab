import Foundation
import GRDB
import Synchronization
import VigilCore

/// Reading sessions, events and the outbox; retention.
extension SQLiteStore {
    // MARK: Reading

    /// Every open session. Read and decoded row by row: a snapshot that cannot be read is set aside (and alarmed
    /// by the service), never a reason to fail the others' recovery.
    public func openSessions() async throws -> [Session] {
        let blobs = try await read { db in
            try Row.fetchAll(db, sql: "SELECT id, snapshot FROM sessions WHERE state != 'ended'").map {
                (id: $0["id"] as String, snapshot: $0["snapshot"] as Data)
            }
        }
        // Opening and decoding the snapshots is most of a restart: spread it over every core.
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, blobs.count / 1000))
        let size = (blobs.count + parts - 1) / max(parts, 1)
        // Through ConcurrentResults: see there why not a task group of indexed results.
        let decoded = await ConcurrentResults.map(parts, unfilled: [Session]()) { part in
            let slice = Array(blobs[min(part * size, blobs.count)..<min((part + 1) * size, blobs.count)])
            return await self.sessions(from: slice)
        }
        return decoded.flatMap { $0 }
    }

    /// One session; throws `VigilError.unreadable` (after setting it aside) when its snapshot cannot be read.
    public func session(_ id: SessionID) async throws -> Session? {
        let blob = try await read { db in
            try Data.fetchOne(db, sql: "SELECT snapshot FROM sessions WHERE id = ?", arguments: [id.rawValue])
        }
        guard let blob else { return nil }
        guard let s = await sessions(from: [(id: id.rawValue, snapshot: blob)]).first else {
            throw VigilError.unreadable(id)
        }
        return s
    }

    public func sessions(_ filter: SessionFilter, limit: Int) async throws -> [Session] {
        let rows = try await read { db in
            let rows: [Row]
            switch filter {
            case .open:
                rows = try Row.fetchAll(
                    db,
                    sql:
                        "SELECT id, snapshot FROM sessions WHERE state != 'ended' AND substr(id, 1, 4) <> 'cny_' ORDER BY started_at DESC LIMIT ?",
                    arguments: [limit])
            case .state(let s):
                rows = try Row.fetchAll(
                    db,
                    sql:
                        "SELECT id, snapshot FROM sessions WHERE state = ? AND substr(id, 1, 4) <> 'cny_' ORDER BY started_at DESC LIMIT ?",
                    arguments: [s.rawValue, limit])
            case .all:
                rows = try Row.fetchAll(
                    db,
                    sql:
                        "SELECT id, snapshot FROM sessions WHERE substr(id, 1, 4) <> 'cny_' ORDER BY started_at DESC LIMIT ?",
                    arguments: [limit])
            }
            return rows.map { (id: $0["id"] as String, snapshot: $0["snapshot"] as Data) }
        }
        return await sessions(from: rows)
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

    /// Pending notifications due at `now`. Read and decoded row by row: a row that cannot be read is set aside
    /// (it leaves the pending outbox, and the service alarms it), never a reason to send nothing.
    public func dueNotifications(at now: Timestamp, limit: Int) async throws -> [OutboxItem] {
        let decoded = try await read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?
                    ORDER BY next_attempt_at LIMIT ?
                    """, arguments: [now.millis, limit])
            return self.notifications(from: rows)
        }
        await quarantine(decoded.failed)
        return decoded.items
    }

    /// Every notification that can be read, oldest first (for `vigil migrate`); the ones set aside stay behind.
    public func allNotifications() async throws -> [OutboxItem] {
        let decoded = try await read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM outbox WHERE status != 'quarantined' ORDER BY created_at, id")
            return self.notifications(from: rows)
        }
        await quarantine(decoded.failed)
        return decoded.items
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
                db,
                sql: """
                    SELECT id FROM sessions WHERE state != 'ended' AND next_deadline <= ?
                        AND id NOT IN (SELECT row_id FROM quarantine WHERE kind = 'snapshot')
                    """,
                arguments: [instant.millis]
            ).map { SessionID(rawValue: $0) }
        }
    }

    public func purgeEnded(before instant: Timestamp) async throws -> Int {
        let rows = try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, snapshot FROM sessions WHERE state = 'ended' AND purged = 0 AND ended_at < ?",
                arguments: [instant.millis]
            ).map { (id: $0["id"] as String, snapshot: $0["snapshot"] as Data) }
        }
        // One by one: a snapshot that cannot be read is set aside, and the others are still purged.
        let readable = await sessions(from: rows)
        for var s in readable {
            s.purgePersonalData()
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
        return readable.count
    }

    public func ping() async throws {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }
}
