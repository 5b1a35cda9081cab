import Foundation
import PostgresNIO
import VigilCore

/// A lapse read from the log: a session whose escalation started, at its lapse time (due time plus grace).
public struct LoggedLapse: Hashable, Sendable {
    /// The event's place in the log.
    public var seq: Int64
    /// The session that lapsed.
    public var session: SessionID
    /// When it lapsed (the escalation's scheduled start), not when an instance noticed it.
    public var at: Timestamp

    /// Creates a lapse.
    public init(seq: Int64, session: SessionID, at: Timestamp) {
        self.seq = seq
        self.session = session
        self.at = at
    }
}

// What the cluster decides once (docs/contract.md, "Mass lapse"; the unattended-console alarm; retention) is decided
// by the holder of a named lease (`acquireLease`). A duty's state lives on its lease's row, written only by the
// holder in the epoch it holds; console presence is a heartbeat row per instance, stamped by PostgreSQL's clock.
extension PostgresStore {
    /// The lapses (events `escalation.started`) after `seq`, in log order, whose event was written at or after
    /// `since` (an event is written at or after its lapse, so no lapse at or after `since` is missed).
    public func lapses(after seq: Int64, since: Timestamp, limit: Int) async throws -> [LoggedLapse] {
        let n = Self.limit(limit)
        let type = EventType.escalationStarted.rawValue
        let events = try await readEvents("lapses") {
            """
            SELECT seq, session_id, type, at, data FROM events
            WHERE seq > \(seq) AND type = \(type) AND at >= \(since.millis) ORDER BY seq LIMIT \(n)
            """
        }
        return events.compactMap { e in
            guard let id = e.sessionID, let data = e.data(as: EventData.EscalationStarted.self) else { return nil }
            return LoggedLapse(seq: e.seq, session: id, at: data.scheduledAt)
        }
    }

    /// The state the holders of lease `name` left on it, if any.
    public func dutyState(_ name: String) async throws -> String? {
        let quiet = self.quiet
        return try await call("duty state") { conn -> String? in
            var state: String?
            for try await v in try await conn.query(
                "SELECT state FROM leases WHERE name = \(name)", logger: quiet
            ).decode(String?.self) {
                state = v
            }
            return state
        }
    }

    /// Writes the state of lease `name`, fenced: only while `owner` in `incarnation` holds it in `epoch` and it has
    /// not expired by PostgreSQL's clock. False when the lease passed to another (nothing is written).
    public func saveDutyState(_ name: String, _ state: String, owner: String, incarnation: Int64, epoch: Int64)
        async throws -> Bool
    {
        let quiet = self.quiet
        return try await call("save duty state") { conn in
            try await !conn.query(
                """
                UPDATE leases SET state = \(state)
                WHERE name = \(name) AND owner = \(owner) AND incarnation = \(incarnation) AND epoch = \(epoch)
                    AND expires_at > clock_timestamp()
                RETURNING 1
                """, logger: quiet
            ).collect().isEmpty
        }
    }

    /// Records that `instance` has `consoles` operator consoles connected now (by PostgreSQL's clock), and returns
    /// how many the whole cluster has: the sum over instances heard from within `fresh`. An instance that stopped
    /// reporting (dead, or cut off) counts for nothing once its heartbeat is older than that.
    public func reportConsoles(instance: String, consoles: Int, fresh: Millis) async throws -> Int {
        let quiet = self.quiet
        let count = Int64(clamping: max(0, consoles))
        let ms = Self.leaseMillis(fresh)
        return try await call("console presence") { conn in
            _ = try await conn.query(
                """
                INSERT INTO console_presence (instance, consoles, seen_at) VALUES (\(instance), \(count), clock_timestamp())
                ON CONFLICT (instance) DO UPDATE SET consoles = EXCLUDED.consoles, seen_at = EXCLUDED.seen_at
                """, logger: quiet
            ).collect()
            var total: Int64 = 0
            for try await v in try await conn.query(
                """
                SELECT coalesce(sum(consoles), 0)::bigint FROM console_presence
                WHERE seen_at > clock_timestamp() - \(ms) * interval '1 millisecond'
                """, logger: quiet
            ).decode(Int64.self) {
                total = v
            }
            return Int(clamping: total)
        }
    }
}
