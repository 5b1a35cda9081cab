import PostgresNIO
import VigilCore

/// A lease granted by `acquireLease`.
public struct LeaseGrant: Hashable, Sendable {
    /// Increases whenever the lease changes hands: a write fenced on it fails once another holder took over.
    public var epoch: Int64
    /// How long the lease still runs by PostgreSQL's clock, measured when it was granted; the holder stops acting
    /// when its own monotonic clock says this much has passed.
    public var remaining: Millis

    /// Creates a grant.
    public init(epoch: Int64, remaining: Millis) {
        self.epoch = epoch
        self.remaining = remaining
    }
}

// Several instances share the outbox. A webhook cannot be fenced, so an instance claims rows before sending them:
// one short committed statement sets owner, incarnation and `lease_until` from PostgreSQL's own clock, and no lock
// outlives it (no row lock across a POST, no session advisory lock whose release waits for PostgreSQL to notice a
// dead connection).
extension PostgresStore {
    /// Claims up to `limit` pending notifications due at `now`, for `lease`: rows nobody holds, rows whose lease
    /// ran out (by PostgreSQL's clock), and rows this owner claimed in an earlier incarnation (a restart takes its
    /// own claims back at once). Concurrent claimers never get the same row (`FOR UPDATE SKIP LOCKED`).
    public func claimDueNotifications(
        owner: String, incarnation: Int64, at now: Timestamp, lease: Millis, limit: Int
    ) async throws -> [OutboxItem] {
        let leaseMillis = Self.leaseMillis(lease)
        let n = Self.limit(limit)
        let items = try await readOutbox("claim notifications") {
            """
            UPDATE outbox SET owner = \(owner), incarnation = \(incarnation),
                lease_until = clock_timestamp() + \(leaseMillis) * interval '1 millisecond'
            WHERE id IN (
                SELECT id FROM outbox
                WHERE status = 'pending' AND next_attempt_at <= \(now.millis)
                    AND (lease_until IS NULL OR lease_until < clock_timestamp()
                        OR (owner = \(owner) AND incarnation < \(incarnation)))
                ORDER BY next_attempt_at, id
                LIMIT \(n)
                FOR UPDATE SKIP LOCKED)
            RETURNING \(unescaped: Self.outboxColumns)
            """
        }
        return items.sorted { ($0.nextAttemptAt, $0.id.rawValue) < ($1.nextAttemptAt, $1.id.rawValue) }
    }

    /// Claims up to `limit` open sessions whose stored deadline has passed by PostgreSQL's clock, for `lease`, on
    /// the same terms as notifications (free, expired, or this owner's earlier incarnation). A commit that
    /// changes a session gives its claim up. Returns each session's id and deadline. The claim says who should
    /// fire; the compare-and-set on the version still makes sure no step fires twice.
    public func claimDueSessions(owner: String, incarnation: Int64, lease: Millis, limit: Int) async throws
        -> [(id: SessionID, due: Timestamp)]
    {
        let quiet = self.quiet
        let leaseMillis = Self.leaseMillis(lease)
        let n = Self.limit(limit)
        let rows = try await call("claim sessions") { conn in
            var out: [(String, Int64)] = []
            for try await row in try await conn.query(
                """
                UPDATE sessions SET claim_owner = \(owner), claim_incarnation = \(incarnation),
                    claim_until = clock_timestamp() + \(leaseMillis) * interval '1 millisecond'
                WHERE id IN (
                    SELECT id FROM sessions
                    WHERE state <> 'ended' AND due_at <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint
                        AND id NOT IN (SELECT row_id FROM quarantine WHERE kind = 'snapshot')
                        AND (claim_until IS NULL OR claim_until < clock_timestamp()
                            OR (claim_owner = \(owner) AND claim_incarnation < \(incarnation)))
                    ORDER BY due_at, id
                    LIMIT \(n)
                    FOR UPDATE SKIP LOCKED)
                RETURNING id, due_at
                """, logger: quiet
            ).decode((String, Int64).self) {
                out.append(row)
            }
            return out
        }
        return rows.map { (id: SessionID(rawValue: $0.0), due: Timestamp(millis: $0.1)) }.sorted {
            ($0.due, $0.id) < ($1.due, $1.id)
        }
    }

    /// Records attempts fenced on the claim: an update applies only while `owner` in `incarnation` still holds
    /// the row (and, when asked, while it is pending), and gives the claim up. False for a row taken over since.
    public func recordAttempts(_ updates: [OutboxUpdate], owner: String, incarnation: Int64) async throws -> [Bool] {
        let quiet = self.quiet
        return try await transaction("record claimed attempts") { conn in
            var out = [Bool](repeating: false, count: updates.count)
            for i in Self.lockOrder(updates) {
                out[i] = try await Self.apply(
                    updates[i], conn, logger: quiet, releasing: true, owner: (owner, incarnation))
            }
            return out
        }
    }

    /// Gives up every claim of `owner` in `incarnation`, on notifications and sessions (at a clean stop), so that
    /// others need not wait for the leases to run out; returns how many.
    @discardableResult
    public func releaseClaims(owner: String, incarnation: Int64) async throws -> Int {
        let quiet = self.quiet
        return try await transaction("release claims") { conn in
            let notifications = try await conn.query(
                """
                UPDATE outbox SET owner = NULL, incarnation = NULL, lease_until = NULL
                WHERE owner = \(owner) AND incarnation = \(incarnation) RETURNING 1
                """, logger: quiet
            ).collect().count
            let sessions = try await conn.query(
                """
                UPDATE sessions SET claim_owner = NULL, claim_incarnation = NULL, claim_until = NULL
                WHERE claim_owner = \(owner) AND claim_incarnation = \(incarnation) RETURNING 1
                """, logger: quiet
            ).collect().count
            return notifications + sessions
        }
    }

    /// Takes or renews the named lease for `duration` by PostgreSQL's clock: granted when free, expired, or held
    /// by this owner (a higher incarnation takes over its own earlier one at once); nil while another holds it.
    /// The epoch changes only when the holder changes.
    public func acquireLease(_ name: String, owner: String, incarnation: Int64, duration: Millis) async throws
        -> LeaseGrant?
    {
        let quiet = self.quiet
        let ms = Self.leaseMillis(duration)
        return try await call("lease") { conn -> LeaseGrant? in
            var grant: LeaseGrant?
            for try await (epoch, remaining) in try await conn.query(
                """
                INSERT INTO leases AS l (name, owner, incarnation, epoch, expires_at)
                VALUES (\(name), \(owner), \(incarnation), 1, clock_timestamp() + \(ms) * interval '1 millisecond')
                ON CONFLICT (name) DO UPDATE SET
                    epoch = CASE WHEN l.owner = EXCLUDED.owner AND l.incarnation = EXCLUDED.incarnation
                        THEN l.epoch ELSE l.epoch + 1 END,
                    owner = EXCLUDED.owner, incarnation = EXCLUDED.incarnation, expires_at = EXCLUDED.expires_at
                WHERE l.expires_at < clock_timestamp()
                    OR (l.owner = EXCLUDED.owner AND l.incarnation <= EXCLUDED.incarnation)
                RETURNING epoch, (extract(epoch FROM l.expires_at - clock_timestamp()) * 1000)::bigint
                """, logger: quiet
            ).decode((Int64, Int64).self) {
                grant = LeaseGrant(epoch: epoch, remaining: Millis(max(0, remaining)))
            }
            return grant
        }
    }

    /// A lease's length in milliseconds, kept between 1 ms and a day.
    static func leaseMillis(_ d: Millis) -> Int64 { min(max(d.value, 1), 86_400_000) }
}

extension PostgresStore {
    /// Makes the notifications that `owner` claimed in an earlier incarnation and left on the wire (a crash) due at
    /// `now`, instead of when their attempt's lease runs out; returns how many. Another instance's claims are never
    /// touched.
    public func resendOrphans(owner: String, incarnation: Int64, at now: Timestamp) async throws -> Int {
        let quiet = self.quiet
        return try await call("resend orphans") { conn in
            try await conn.query(
                """
                UPDATE outbox SET next_attempt_at = \(now.millis), owner = NULL, incarnation = NULL, lease_until = NULL
                WHERE status = 'pending' AND owner = \(owner) AND incarnation < \(incarnation)
                RETURNING 1
                """, logger: quiet
            ).collect().count
        }
    }
}
