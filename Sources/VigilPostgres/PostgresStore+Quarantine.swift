import Foundation
import PostgresNIO
import VigilCore

/// Rows that cannot be read are set aside one by one (the others read on), as on SQLite: a snapshot's row is listed
/// in `quarantine` and left out of the deadlines' claims; a notification's row is listed and leaves the pending
/// outbox (status `quarantined`), so no instance retries it blindly. The damaged bytes stay where they are.
extension PostgresStore: QuarantineStore {
    /// A row that did not read, and why (naming no stored value).
    struct Unreadable: Error {
        var reason: String
        static let opening = Unreadable(reason: "its seal does not open: damaged, or sealed with another key")
        static let decoding = Unreadable(
            reason: "what it holds does not decode: damaged, or written by another version of Vigil")
    }

    /// Now, for the record of when a row was set aside.
    static func wallNow() -> Timestamp { Timestamp(millis: Int64(Date().timeIntervalSince1970 * 1000)) }

    /// Sets rows aside: each listed once, a notification taken out of the pending outbox and its claim given up.
    /// A failure to record it is not the read's failure: the next read finds the row again.
    func quarantine(_ rows: [QuarantinedRow]) async {
        guard !rows.isEmpty else { return }
        let quiet = self.quiet
        _ = try? await transaction("quarantine") { conn in
            for r in rows {
                _ = try await conn.query(
                    """
                    INSERT INTO quarantine (kind, row_id, session_id, reason, at)
                    VALUES (\(r.kind.rawValue), \(r.rowID), \(r.sessionID.rawValue), \(r.reason), \(r.at.millis))
                    ON CONFLICT (kind, row_id) DO NOTHING
                    """, logger: quiet
                ).collect()
                if r.kind == .notification {
                    _ = try await conn.query(
                        """
                        UPDATE outbox SET status = 'quarantined', owner = NULL, incarnation = NULL, lease_until = NULL
                        WHERE id = \(r.rowID)
                        """, logger: quiet
                    ).collect()
                }
            }
        }
    }

    /// Decodes snapshot rows one by one; the ones that fail are set aside.
    func sessions(from rows: [(String, Data)]) async -> [Session] {
        var out: [Session] = []
        var failed: [QuarantinedRow] = []
        for row in rows {
            do {
                out.append(try decodeSession(row))
            } catch {
                failed.append(
                    QuarantinedRow(
                        kind: .snapshot, sessionID: SessionID(rawValue: row.0), rowID: row.0,
                        reason: ((error as? Unreadable) ?? .decoding).reason, at: Self.wallNow()))
            }
        }
        await quarantine(failed)
        return out
    }

    /// Decodes outbox rows one by one; the ones that fail are set aside.
    func notifications(from rows: [OutboxRow]) async -> [OutboxItem] {
        var out: [OutboxItem] = []
        var failed: [QuarantinedRow] = []
        for row in rows {
            do {
                out.append(try outboxItem(row))
            } catch {
                failed.append(
                    QuarantinedRow(
                        kind: .notification, sessionID: SessionID(rawValue: row.1), rowID: row.0,
                        reason: ((error as? Unreadable) ?? .decoding).reason, at: Self.wallNow()))
            }
        }
        await quarantine(failed)
        return out
    }

    public func quarantined() async throws -> [QuarantinedRow] {
        let quiet = self.quiet
        let rows = try await call("quarantined rows") { conn in
            var out: [(String, String, String, String, Int64)] = []
            for try await r in try await conn.query(
                """
                SELECT q.kind, q.row_id, q.session_id, q.reason, q.at FROM quarantine q
                JOIN sessions s ON s.id = q.session_id
                WHERE s.state <> 'ended' ORDER BY q.at, q.row_id
                """, logger: quiet
            ).decode((String, String, String, String, Int64).self) {
                out.append(r)
            }
            return out
        }
        return rows.compactMap { kind, rowID, sid, reason, at in
            QuarantinedRow.Kind(rawValue: kind).map {
                QuarantinedRow(
                    kind: $0, sessionID: SessionID(rawValue: sid), rowID: rowID, reason: reason,
                    at: Timestamp(millis: at))
            }
        }
    }

    public func unreadableSession(_ id: SessionID) async throws -> (version: Int, startedAt: Timestamp)? {
        let quiet = self.quiet
        let row = try await call("unreadable session") { conn -> (Int64, Int64)? in
            var found: (Int64, Int64)?
            for try await r in try await conn.query(
                """
                SELECT s.version, s.started_at FROM sessions s JOIN quarantine q ON q.kind = 'snapshot' AND q.row_id = s.id
                WHERE s.id = \(id.rawValue) AND s.state <> 'ended'
                """, logger: quiet
            ).decode((Int64, Int64).self) {
                found = r
            }
            return found
        }
        guard let row, let version = Int(exactly: row.0) else { return nil }
        return (version, Timestamp(millis: row.1))
    }
}
