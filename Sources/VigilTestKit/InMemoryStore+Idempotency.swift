import Synchronization
import VigilCore

/// A key as the in-memory store keeps it.
struct InMemoryKey: Sendable {
    var fingerprint: String
    var response: IdempotentResponse?
    var claimedAt: Timestamp
    var expiresAt: Timestamp
}

/// Idempotency keys with the rule every store follows (`IdempotencyClaim.existing`); for logic tests.
extension InMemoryStore: IdempotencyStore {
    public func claimIdempotency(_ entry: IdempotencyEntry, at now: Timestamp) async throws -> IdempotencyClaim {
        keys.withLock { k in
            if let row = k[entry.id],
                let found = IdempotencyClaim.existing(
                    entry, fingerprint: row.fingerprint, response: row.response, claimedAt: row.claimedAt,
                    expiresAt: row.expiresAt, now: now)
            {
                return found
            }
            k[entry.id] = InMemoryKey(
                fingerprint: entry.fingerprint, response: nil, claimedAt: now,
                expiresAt: now + IdempotencyTerms.retention)
            return .claimed
        }
    }

    public func completeIdempotency(_ entry: IdempotencyEntry, response: IdempotentResponse) async throws {
        keys.withLock { k in
            guard var row = k[entry.id], row.fingerprint == entry.fingerprint, row.response == nil else { return }
            row.response = response
            k[entry.id] = row
        }
    }

    public func releaseIdempotency(_ entry: IdempotencyEntry) async throws {
        keys.withLock { k in
            guard let row = k[entry.id], row.fingerprint == entry.fingerprint, row.response == nil else { return }
            k[entry.id] = nil
        }
    }

    public func purgeIdempotency(at now: Timestamp) async throws -> Int {
        keys.withLock { k in
            let expired = k.filter { $0.value.expiresAt <= now }.map(\.key)
            for id in expired { k[id] = nil }
            return expired.count
        }
    }
}

/// Link tokens in memory; like the other stores, they are forgotten by `purgeIdempotency` (not here: tests of
/// the fallback look them up within the day).
extension InMemoryStore: LinkDirectory {
    public func recordLinks(_ hashes: [String], session id: SessionID, at now: Timestamp) async throws {
        links.withLock { l in for h in hashes where l[h] == nil { l[h] = id } }
    }

    public func session(linkHash hash: String) async throws -> SessionID? { links.withLock { $0[hash] } }
}
