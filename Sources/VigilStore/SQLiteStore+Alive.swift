import GRDB
import VigilCore

/// The last moment this service noted it was watching: one row.
extension SQLiteStore: AliveMarks {
    static func migrateAlive(_ db: Database) throws {
        try db.execute(
            sql: "CREATE TABLE alive (one INTEGER PRIMARY KEY NOT NULL CHECK (one = 1), at INTEGER NOT NULL)")
    }

    public func markAlive(at: Timestamp) async throws {
        do {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO alive (one, at) VALUES (1, ?)
                        ON CONFLICT(one) DO UPDATE SET at = max(alive.at, excluded.at)
                        """, arguments: [at.millis])
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func lastAlive() async throws -> Timestamp? {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT at FROM alive WHERE one = 1") }
            .map { Timestamp(millis: $0) }
    }
}
