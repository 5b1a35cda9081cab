import Foundation
import PostgresNIO
import VigilCore

/// Saved response plans: the name (a caller's alias) kept only as a hash, the plan sealed and bound to its row.
extension PostgresStore: PlanStore {
    /// Where a plan lives.
    static func context(plan hash: String) -> String { "plans:" + hash }

    /// The plan saved under `name`, if any.
    public func plan(named name: String) async throws -> [Responder]? {
        let hash = SHA256Digest.hex(name)
        let quiet = self.quiet
        let blob = try await call("plan") { conn -> Data? in
            var found: Data?
            for try await b in try await conn.query(
                "SELECT body FROM plans WHERE name_hash = \(hash)", logger: quiet
            ).decode(Data.self) {
                found = b
            }
            return found
        }
        guard let blob else { return nil }
        let stored = try VigilJSON.decode(
            StoredPlan.self, from: sealer.open(Array(blob), context: Self.context(plan: hash)))
        return stored.name == name ? stored.responders : nil
    }

    /// Saves (or replaces) the plan under `name`.
    public func savePlan(named name: String, responders: [Responder], at now: Timestamp) async throws {
        let hash = SHA256Digest.hex(name)
        let body = Data(
            try sealer.seal(
                VigilJSON.encode(StoredPlan(name: name, responders: responders)), context: Self.context(plan: hash)))
        let quiet = self.quiet
        let at = now.millis
        try await call("save plan") { conn in
            _ = try await conn.query(
                """
                INSERT INTO plans (name_hash, updated_at, body) VALUES (\(hash), \(at), \(body))
                ON CONFLICT (name_hash) DO UPDATE SET updated_at = EXCLUDED.updated_at, body = EXCLUDED.body
                """, logger: quiet
            ).collect()
        }
    }

    /// Deletes the plan; false when there was none.
    public func deletePlan(named name: String) async throws -> Bool {
        let hash = SHA256Digest.hex(name)
        let quiet = self.quiet
        return try await call("delete plan") { conn in
            let rows = try await conn.query(
                "DELETE FROM plans WHERE name_hash = \(hash) RETURNING 1", logger: quiet
            ).collect()
            return !rows.isEmpty
        }
    }
}

/// A plan as sealed at rest.
struct StoredPlan: Codable, Sendable {
    var name: String
    var responders: [Responder]
}
