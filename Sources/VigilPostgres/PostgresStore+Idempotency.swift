import Foundation
import PostgresNIO
import VigilCore

/// Idempotency keys and fresh link tokens, shared by every instance, as on SQLite: a key's row is named by a hash
/// of the caller and the key, holds the first request's hash and, once answered, its answer sealed and bound to its
/// row; a link's row maps a fresh token's hash to its session.
extension PostgresStore: IdempotencyStore, LinkDirectory {
    /// Where a recorded answer lives.
    static func context(idempotency id: String) -> String { "idempotency:" + id }

    public func claimIdempotency(_ entry: IdempotencyEntry, at now: Timestamp) async throws -> IdempotencyClaim {
        let quiet = self.quiet
        let (id, fingerprint) = (entry.id, entry.fingerprint)
        let at = now.millis
        let expires = (now + IdempotencyTerms.retention).millis
        let found = try await transaction("claim key") { conn -> (String, Int64, Int64, Data?)?? in
            // Two claims at once: the second waits for the first's insert to commit, then inserts nothing.
            let inserted = try await conn.query(
                """
                INSERT INTO idempotency (id, fingerprint, claimed_at, expires_at) VALUES (\(id), \(fingerprint), \(at),
                \(expires)) ON CONFLICT (id) DO NOTHING RETURNING 1
                """, logger: quiet
            ).collect()
            if !inserted.isEmpty { return .some(nil) }
            var row: (String, Int64, Int64, Data?)?
            for try await r in try await conn.query(
                "SELECT fingerprint, claimed_at, expires_at, response FROM idempotency WHERE id = \(id) FOR UPDATE",
                logger: quiet
            ).decode((String, Int64, Int64, Data?).self) {
                row = r
            }
            // Deleted between the two statements (expired and swept): the caller tries again.
            guard let row else { return nil }
            let free = IdempotencyClaim.isFree(
                answered: row.3 != nil, claimedAt: Timestamp(millis: row.1), expiresAt: Timestamp(millis: row.2),
                now: now)
            if !free { return .some(row) }
            _ = try await conn.query(
                """
                UPDATE idempotency SET fingerprint = \(fingerprint), claimed_at = \(at), expires_at = \(expires),
                response = NULL WHERE id = \(id)
                """, logger: quiet
            ).collect()
            return .some(nil)
        }
        guard let found else { return .inProgress }
        guard let row = found else { return .claimed }
        let response = try row.3.map {
            try VigilJSON.decode(
                IdempotentResponse.self, from: sealer.open(Array($0), context: Self.context(idempotency: id)))
        }
        return IdempotencyClaim.existing(
            entry, fingerprint: row.0, response: response, claimedAt: Timestamp(millis: row.1),
            expiresAt: Timestamp(millis: row.2), now: now) ?? .inProgress
    }

    public func completeIdempotency(_ entry: IdempotencyEntry, response: IdempotentResponse) async throws {
        let sealed = Data(try sealer.seal(VigilJSON.encode(response), context: Self.context(idempotency: entry.id)))
        let quiet = self.quiet
        let (id, fingerprint) = (entry.id, entry.fingerprint)
        try await call("answer key") { conn in
            _ = try await conn.query(
                """
                UPDATE idempotency SET response = \(sealed)
                WHERE id = \(id) AND fingerprint = \(fingerprint) AND response IS NULL
                """, logger: quiet
            ).collect()
        }
    }

    public func releaseIdempotency(_ entry: IdempotencyEntry) async throws {
        let quiet = self.quiet
        let (id, fingerprint) = (entry.id, entry.fingerprint)
        try await call("release key") { conn in
            _ = try await conn.query(
                """
                DELETE FROM idempotency WHERE id = \(id) AND fingerprint = \(fingerprint) AND response IS NULL
                """, logger: quiet
            ).collect()
        }
    }

    public func purgeIdempotency(at now: Timestamp) async throws -> Int {
        let quiet = self.quiet
        let at = now.millis
        return try await call("purge keys") { conn in
            let keys = try await conn.query(
                "DELETE FROM idempotency WHERE expires_at <= \(at) RETURNING 1", logger: quiet
            ).collect()
            let links = try await conn.query(
                "DELETE FROM links WHERE expires_at <= \(at) RETURNING 1", logger: quiet
            ).collect()
            return keys.count + links.count
        }
    }

    public func recordLinks(_ hashes: [String], session id: SessionID, at now: Timestamp) async throws {
        guard !hashes.isEmpty else { return }
        let quiet = self.quiet
        let sid = id.rawValue
        let expires = (now + IdempotencyTerms.retention).millis
        try await call("record links") { conn in
            for h in hashes {
                _ = try await conn.query(
                    """
                    INSERT INTO links (hash, session_id, expires_at) VALUES (\(h), \(sid), \(expires))
                    ON CONFLICT (hash) DO NOTHING
                    """, logger: quiet
                ).collect()
            }
        }
    }

    public func session(linkHash hash: String) async throws -> SessionID? {
        let quiet = self.quiet
        return try await call("find link") { conn in
            var found: String?
            for try await s in try await conn.query(
                "SELECT session_id FROM links WHERE hash = \(hash)", logger: quiet
            ).decode(String.self) {
                found = s
            }
            return found.map { SessionID(rawValue: $0) }
        }
    }
}
