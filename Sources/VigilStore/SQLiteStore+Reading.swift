import Foundation
import GRDB
import Synchronization
import VigilCore

/// Reading sessions, events and the outbox; retention.
extension SQLiteStore {
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
        return rows.count
    }

    public func ping() async throws {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }
}
