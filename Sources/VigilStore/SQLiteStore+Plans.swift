import Foundation
import GRDB
import VigilCore

/// Saved response plans. The name (a caller's alias) is kept only as a hash; the plan itself, name included, is
/// sealed like a session's snapshot, bound to its row.
extension SQLiteStore: PlanStore {
    static func migratePlans(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE plans (
                    name_hash TEXT PRIMARY KEY NOT NULL,
                    updated_at INTEGER NOT NULL,
                    body BLOB NOT NULL
                )
                """)
    }

    /// Where a plan lives.
    static func context(plan hash: String) -> String { "plans:" + hash }

    public func plan(named name: String) async throws -> [Responder]? {
        let hash = SHA256Digest.hex(name)
        let blob = try await pool.read { db in
            try Data.fetchOne(db, sql: "SELECT body FROM plans WHERE name_hash = ?", arguments: [hash])
        }
        guard let blob else { return nil }
        let stored = try VigilJSON.decode(StoredPlan.self, from: unseal(Array(blob), Self.context(plan: hash)))
        // A hash collision would be another name's plan: never hand it out.
        return stored.name == name ? stored.responders : nil
    }

    public func savePlan(named name: String, responders: [Responder], at now: Timestamp) async throws {
        let hash = SHA256Digest.hex(name)
        let body = Data(
            try seal(VigilJSON.encode(StoredPlan(name: name, responders: responders)), Self.context(plan: hash)))
        do {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO plans (name_hash, updated_at, body) VALUES (?, ?, ?)
                        ON CONFLICT(name_hash) DO UPDATE SET updated_at = excluded.updated_at, body = excluded.body
                        """, arguments: [hash, now.millis, body])
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Every saved plan, opened, with when it was last saved (for `vigil migrate`).
    public func allPlans() async throws -> [(name: String, responders: [Responder], updatedAt: Timestamp)] {
        let rows = try await read { db in
            try Row.fetchAll(db, sql: "SELECT name_hash, updated_at, body FROM plans ORDER BY name_hash").map {
                (hash: $0["name_hash"] as String, at: $0["updated_at"] as Int64, body: $0["body"] as Data)
            }
        }
        return try rows.map { row in
            let plan = try VigilJSON.decode(
                StoredPlan.self, from: unseal(Array(row.body), Self.context(plan: row.hash)))
            return (plan.name, plan.responders, Timestamp(millis: row.at))
        }
    }

    public func deletePlan(named name: String) async throws -> Bool {
        let hash = SHA256Digest.hex(name)
        do {
            return try await pool.write { db in
                try db.execute(sql: "DELETE FROM plans WHERE name_hash = ?", arguments: [hash])
                return db.changesCount > 0
            }
        } catch {
            throw Self.map(error)
        }
    }
}

/// A plan as sealed at rest.
struct StoredPlan: Codable, Sendable {
    var name: String
    var responders: [Responder]
}
