import Foundation
import GRDB
import VigilCore

/// Idempotency keys and link tokens, for 24 hours. A key's row is named by a hash of the caller and the key, holds
/// the hash of the first request and, once answered, its answer sealed like a snapshot (bound to its row); a link's
/// row maps the hash of a fresh link token to its session, for an instance that has not heard of it yet.
extension SQLiteStore: IdempotencyStore, LinkDirectory {
    static func migrateIdempotency(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE idempotency (
                    id TEXT PRIMARY KEY NOT NULL,
                    fingerprint TEXT NOT NULL,
                    claimed_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    response BLOB
                );
                CREATE INDEX idempotency_expiry ON idempotency(expires_at);
                CREATE TABLE links (
                    hash TEXT PRIMARY KEY NOT NULL,
                    session_id TEXT NOT NULL,
                    expires_at INTEGER NOT NULL
                );
                CREATE INDEX links_expiry ON links(expires_at);
                """)
    }

    /// Where a recorded answer lives.
    static func context(idempotency id: String) -> String { "idempotency:" + id }

    public func claimIdempotency(_ entry: IdempotencyEntry, at now: Timestamp) async throws -> IdempotencyClaim {
        do {
            return try await pool.write { db in
                if let row = try Row.fetchOne(
                    db, sql: "SELECT fingerprint, claimed_at, expires_at, response FROM idempotency WHERE id = ?",
                    arguments: [entry.id]),
                    let found = try IdempotencyClaim.existing(
                        entry, fingerprint: row["fingerprint"], response: self.response(row["response"], entry.id),
                        claimedAt: Timestamp(millis: row["claimed_at"]),
                        expiresAt: Timestamp(millis: row["expires_at"]), now: now)
                {
                    return found
                }
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO idempotency (id, fingerprint, claimed_at, expires_at, response)
                        VALUES (?, ?, ?, ?, NULL)
                        """,
                    arguments: [entry.id, entry.fingerprint, now.millis, (now + IdempotencyTerms.retention).millis])
                return .claimed
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// A recorded answer, opened; nil while unanswered.
    func response(_ blob: Data?, _ id: String) throws -> IdempotentResponse? {
        guard let blob else { return nil }
        return try VigilJSON.decode(IdempotentResponse.self, from: unseal(Array(blob), Self.context(idempotency: id)))
    }

    public func completeIdempotency(_ entry: IdempotencyEntry, response: IdempotentResponse) async throws {
        let sealed = Data(try seal(VigilJSON.encode(response), Self.context(idempotency: entry.id)))
        do {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        UPDATE idempotency SET response = ? WHERE id = ? AND fingerprint = ? AND response IS NULL
                        """, arguments: [sealed, entry.id, entry.fingerprint])
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func releaseIdempotency(_ entry: IdempotencyEntry) async throws {
        do {
            try await pool.write { db in
                try db.execute(
                    sql: "DELETE FROM idempotency WHERE id = ? AND fingerprint = ? AND response IS NULL",
                    arguments: [entry.id, entry.fingerprint])
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func purgeIdempotency(at now: Timestamp) async throws -> Int {
        do {
            return try await pool.write { db in
                try db.execute(sql: "DELETE FROM idempotency WHERE expires_at <= ?", arguments: [now.millis])
                let keys = db.changesCount
                try db.execute(sql: "DELETE FROM links WHERE expires_at <= ?", arguments: [now.millis])
                return keys + db.changesCount
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func recordLinks(_ hashes: [String], session id: SessionID, at now: Timestamp) async throws {
        guard !hashes.isEmpty else { return }
        let expires = (now + IdempotencyTerms.retention).millis
        do {
            try await pool.write { db in
                for h in hashes {
                    try db.execute(
                        sql: "INSERT OR IGNORE INTO links (hash, session_id, expires_at) VALUES (?, ?, ?)",
                        arguments: [h, id.rawValue, expires])
                }
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func session(linkHash hash: String) async throws -> SessionID? {
        try await read { db in
            try String.fetchOne(db, sql: "SELECT session_id FROM links WHERE hash = ?", arguments: [hash])
        }.map { SessionID(rawValue: $0) }
    }

    /// Re-seals every recorded answer with `sealer` (a key rotation), each under its own context.
    func resealIdempotency(_ db: Database, with sealer: any DataSealer) throws -> Int {
        var count = 0
        for row in try Row.fetchAll(db, sql: "SELECT id, response FROM idempotency WHERE response IS NOT NULL") {
            let id: String = row["id"]
            let plain = try unseal(Array(row["response"] as Data), Self.context(idempotency: id))
            let sealed = try sealer.seal(plain, context: Self.context(idempotency: id))
            try db.execute(sql: "UPDATE idempotency SET response = ? WHERE id = ?", arguments: [Data(sealed), id])
            count += 1
        }
        return count
    }
}
