import Foundation
import GRDB
import Synchronization
import VigilCore

/// Reads on the pool, re-encryption, and rows to values (each blob opened with its row's context).
extension SQLiteStore {
    // MARK: Helpers

    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
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
                count += try self.resealRows(db, table: "plans", key: "name_hash", column: "body", with: sealer) {
                    Self.context(plan: $0)
                }
                count += try self.resealIdempotency(db, with: sealer)
                return count
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Re-seals `column` of every row of `table` (keyed by `key`), each under its own context.
    func resealRows(
        _ db: Database, table: String, key: String = "id", column: String, with sealer: any DataSealer,
        context: (String) -> String
    ) throws -> Int {
        var count = 0
        for row in try Row.fetchAll(db, sql: "SELECT \(key) AS id, \(column) AS blob FROM \(table)") {
            let id: String = row["id"]
            let plain = try unseal(Array(row["blob"] as Data), context(id))
            // An emptied (purged) body stays empty.
            let sealed = plain.isEmpty ? [] : try sealer.seal(plain, context: context(id))
            try db.execute(sql: "UPDATE \(table) SET \(column) = ? WHERE \(key) = ?", arguments: [Data(sealed), id])
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

    func event(from row: Row) throws -> StoredEvent {
        let data: Data = row["data"]
        let sid: String? = row["session_id"]
        let type: String = row["type"]
        return StoredEvent(
            seq: row["seq"], sessionID: sid.map { SessionID(rawValue: $0) },
            type: try EventType.stored(type), at: Timestamp(millis: row["at"]),
            data: try VigilJSON.decode(
                JSONValue.self, from: unseal(Array(data), Self.context(events: sid.map { SessionID(rawValue: $0) }))))
    }

    /// A notification from its row; throws `Unreadable`, saying which step failed, when it cannot be read.
    func outboxItem(from row: Row) throws -> OutboxItem {
        let id = NotificationID(rawValue: row["id"])
        let sealed: Data = row["body"]
        let body: [UInt8]
        do { body = try unseal(Array(sealed), Self.context(outbox: id)) } catch {
            throw Unreadable(reason: Self.reason(error, opening: true))
        }
        do {
            let targets: String = row["targets"]
            let webhooks: String = row["webhook_ids"]
            let type: String = row["type"]
            let status: String = row["status"]
            var item = OutboxItem(
                id: id, sessionID: SessionID(rawValue: row["session_id"]), type: try EventType.stored(type),
                targets: try VigilJSON.decode([TargetName].self, from: Array(targets.utf8)),
                webhookIDs: try VigilJSON.decode([WebhookID].self, from: Array(webhooks.utf8)),
                body: body, createdAt: Timestamp(millis: row["created_at"]), isDispatch: row["is_dispatch"])
            item.status = try OutboxStatus.stored(status)
            item.targetIndex = row["target_index"]
            item.attempts = row["attempts"]
            item.nextAttemptAt = Timestamp(millis: row["next_attempt_at"])
            item.targetSince = (row["target_since"] as Int64?).map { Timestamp(millis: $0) }
            return item
        } catch {
            throw Unreadable(reason: Self.reason(error, opening: false))
        }
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
