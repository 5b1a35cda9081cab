import Foundation
import GRDB
import VigilCore

/// Rows that cannot be read are set aside one by one (the others read on): a snapshot's row is listed in
/// `quarantine` and left out of the deadlines' sweep; a notification's row is listed and leaves the pending outbox
/// (status `quarantined`), so it is never retried blindly. The damaged bytes stay where they are, for an inquiry.
extension SQLiteStore: QuarantineStore {
    static func migrateQuarantine(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE quarantine (
                    kind TEXT NOT NULL,
                    row_id TEXT NOT NULL,
                    session_id TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    PRIMARY KEY (kind, row_id)
                );
                CREATE INDEX quarantine_session ON quarantine(session_id);
                """)
    }

    /// Why a blob did not read, naming no stored value.
    static func reason(_ error: any Error, opening: Bool) -> String {
        opening
            ? "its seal does not open: damaged, or sealed with another key"
            : "what it holds does not decode: damaged, or written by another version of Vigil"
    }

    /// Opens and decodes a blob, telling which step failed.
    func decodeSealed<T: Decodable>(_ type: T.Type, _ blob: Data, _ context: String) throws(Unreadable) -> T {
        let plain: [UInt8]
        do { plain = try unseal(Array(blob), context) } catch {
            throw Unreadable(reason: Self.reason(error, opening: true))
        }
        do { return try VigilJSON.decode(type, from: plain) } catch {
            throw Unreadable(reason: Self.reason(error, opening: false))
        }
    }

    /// A row that did not read, and why.
    struct Unreadable: Error {
        var reason: String
    }

    /// Sets rows aside: each listed once, a notification taken out of the pending outbox. Failing to record it
    /// is logged by the caller's next read finding the row again; it never fails the read.
    func quarantine(_ rows: [QuarantinedRow]) async {
        guard !rows.isEmpty else { return }
        _ = try? await pool.write { db in
            for r in rows {
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO quarantine (kind, row_id, session_id, reason, at) VALUES (?, ?, ?, ?, ?)
                        """, arguments: [r.kind.rawValue, r.rowID, r.sessionID.rawValue, r.reason, r.at.millis])
                if r.kind == .notification {
                    try db.execute(
                        sql: "UPDATE outbox SET status = 'quarantined', in_flight = 0 WHERE id = ?",
                        arguments: [r.rowID])
                }
            }
        }
    }

    /// Now, for the record of when a row was set aside.
    static func wallNow() -> Timestamp { Timestamp(millis: Int64(Date().timeIntervalSince1970 * 1000)) }

    /// Decodes snapshot rows (`id`, `snapshot`) one by one; the ones that fail are set aside.
    func sessions(from rows: [(id: String, snapshot: Data)]) async -> [Session] {
        var out: [Session] = []
        var failed: [QuarantinedRow] = []
        for row in rows {
            let id = SessionID(rawValue: row.id)
            do {
                out.append(try decodeSealed(Session.self, row.snapshot, Self.context(session: id)))
            } catch {
                failed.append(
                    QuarantinedRow(
                        kind: .snapshot, sessionID: id, rowID: row.id, reason: error.reason, at: Self.wallNow()))
            }
        }
        await quarantine(failed)
        return out
    }

    public func quarantined() async throws -> [QuarantinedRow] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT q.kind, q.row_id, q.session_id, q.reason, q.at FROM quarantine q
                    JOIN sessions s ON s.id = q.session_id
                    WHERE s.state != 'ended' ORDER BY q.at, q.row_id
                    """
            ).compactMap { row in
                guard let kind = QuarantinedRow.Kind(rawValue: row["kind"]) else { return nil }
                return QuarantinedRow(
                    kind: kind, sessionID: SessionID(rawValue: row["session_id"]), rowID: row["row_id"],
                    reason: row["reason"], at: Timestamp(millis: row["at"]))
            }
        }
    }

    public func unreadableSession(_ id: SessionID) async throws -> (version: Int, startedAt: Timestamp)? {
        try await read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT s.version, s.started_at FROM sessions s JOIN quarantine q
                        ON q.kind = 'snapshot' AND q.row_id = s.id
                    WHERE s.id = ? AND s.state != 'ended'
                    """, arguments: [id.rawValue]
            ).map { (version: $0["version"], startedAt: Timestamp(millis: $0["started_at"])) }
        }
    }
}

extension SQLiteStore {
    /// Decodes outbox rows one by one (inside the read: a row does not leave it); the ones that fail are listed
    /// for `quarantine`.
    func notifications(from rows: [Row]) -> (items: [OutboxItem], failed: [QuarantinedRow]) {
        var out: [OutboxItem] = []
        var failed: [QuarantinedRow] = []
        for row in rows {
            do {
                out.append(try outboxItem(from: row))
            } catch {
                let reason = (error as? Unreadable)?.reason ?? Self.reason(error, opening: false)
                failed.append(
                    QuarantinedRow(
                        kind: .notification, sessionID: SessionID(rawValue: row["session_id"]), rowID: row["id"],
                        reason: reason, at: Self.wallNow()))
            }
        }
        return (out, failed)
    }
}
