import Foundation
import Logging
import PostgresNIO
import Synchronization
import VigilCore

/// Queries with retries, rows to values (each blob opened with its row's context), errors mapped.
extension PostgresStore {
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
        next_attempt_at, target_since
        """

    /// A limit PostgreSQL accepts: negative means none.
    static func limit(_ n: Int) -> Int64 { Int64(clamping: max(0, n)) }

    func readEvents(_ what: String, _ query: @escaping @Sendable () -> PostgresQuery) async throws
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

    typealias OutboxRow = (
        String, String, String, String, String, Data, Int64, Bool, String, Int64, Int64, Int64, Int64?
    )

    func readOutbox(_ what: String, _ query: @escaping @Sendable () -> PostgresQuery) async throws -> [OutboxItem] {
        let quiet = self.quiet
        let rows = try await call(what) { conn in
            var out: [OutboxRow] = []
            for try await r in try await conn.query(query(), logger: quiet).decode(OutboxRow.self) { out.append(r) }
            return out
        }
        // One by one: a row that cannot be read is set aside, never a reason to send nothing.
        return await notifications(from: rows)
    }

    /// A notification from its row; throws `Unreadable`, saying which step failed, when it cannot be read.
    func outboxItem(_ r: OutboxRow) throws -> OutboxItem {
        let (
            id, sid, type, targets, webhooks, sealed, createdAt, isDispatch, status, targetIndex, attempts, next, since
        ) = r
        let body: [UInt8]
        do { body = try sealer.open(Array(sealed), context: Self.context(outbox: NotificationID(rawValue: id))) } catch
        {
            throw Unreadable.opening
        }
        do {
            var item = OutboxItem(
                id: NotificationID(rawValue: id), sessionID: SessionID(rawValue: sid),
                type: try EventType.stored(type),
                targets: try VigilJSON.decode([TargetName].self, from: Array(targets.utf8)),
                webhookIDs: try VigilJSON.decode([WebhookID].self, from: Array(webhooks.utf8)),
                body: body, createdAt: Timestamp(millis: createdAt), isDispatch: isDispatch)
            item.status = try OutboxStatus.stored(status)
            guard let t = Int(exactly: targetIndex), let a = Int(exactly: attempts) else { throw Unreadable.decoding }
            item.targetIndex = t
            item.attempts = a
            item.nextAttemptAt = Timestamp(millis: next)
            item.targetSince = since.map { Timestamp(millis: $0) }
            return item
        } catch {
            throw Unreadable.decoding
        }
    }

    /// A session from its row; throws `Unreadable`, saying which step failed, when it cannot be read.
    func decodeSession(_ row: (String, Data)) throws -> Session {
        let plain: [UInt8]
        do { plain = try sealer.open(Array(row.1), context: Self.context(session: SessionID(rawValue: row.0))) } catch {
            throw Unreadable.opening
        }
        do { return try VigilJSON.decode(Session.self, from: plain) } catch { throw Unreadable.decoding }
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
