import Foundation
import Logging
import PostgresNIO
import Synchronization
import VigilCore

/// Reading sessions, events and the outbox; retention; the database's clock.
extension PostgresStore {
    // MARK: Reading

    /// Every session not ended, decoded on every core, row by row: a snapshot that cannot be read is set aside (and
    /// alarmed by the service), never a reason to fail the others' recovery.
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
        // Through ConcurrentResults: see there why not a task group of indexed results.
        let decoded = await ConcurrentResults.map(parts, unfilled: [Session]()) { part in
            let slice = Array(blobs[min(part * size, blobs.count)..<min((part + 1) * size, blobs.count)])
            return await self.sessions(from: slice)
        }
        return decoded.flatMap { $0 }
    }

    /// One session by id; throws `VigilError.unreadable` (after setting it aside) when its snapshot cannot be read.
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
        guard let blob else { return nil }
        guard let s = await sessions(from: [blob]).first else { throw VigilError.unreadable(id) }
        return s
    }

    /// Sessions matching a filter, newest first.
    public func sessions(_ filter: SessionFilter, limit: Int) async throws -> [Session] {
        let quiet = self.quiet
        let n = Self.limit(limit)
        let blobs = try await call("sessions") { conn -> [(String, Data)] in
            let q: PostgresQuery
            switch filter {
            case .open:
                q =
                    "SELECT id, snapshot FROM sessions WHERE state <> 'ended' AND substr(id, 1, 4) <> 'cny_' ORDER BY started_at DESC LIMIT \(n)"
            case .state(let s):
                q =
                    "SELECT id, snapshot FROM sessions WHERE state = \(s.rawValue) AND substr(id, 1, 4) <> 'cny_' ORDER BY started_at DESC LIMIT \(n)"
            case .all:
                q =
                    "SELECT id, snapshot FROM sessions WHERE substr(id, 1, 4) <> 'cny_' ORDER BY started_at DESC LIMIT \(n)"
            }
            var out: [(String, Data)] = []
            for try await b in try await conn.query(q, logger: quiet).decode((String, Data).self) { out.append(b) }
            return out
        }
        return await sessions(from: blobs)
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
                """
                SELECT id FROM sessions WHERE state <> 'ended' AND due_at <= \(instant.millis)
                    AND id NOT IN (SELECT row_id FROM quarantine WHERE kind = 'snapshot')
                """, logger: quiet
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
        // One by one: a snapshot that cannot be read is set aside, and the others are still purged.
        for var s in await sessions(from: blobs) {
            s.purgePersonalData()
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
}
