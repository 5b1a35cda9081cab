import PostgresNIO
import VigilCore

/// The last moment any instance noted it was watching: one row, the latest mark kept.
extension PostgresStore: AliveMarks {
    public func markAlive(at: Timestamp) async throws {
        let quiet = self.quiet
        let millis = at.millis
        try await call("mark alive") { conn in
            _ = try await conn.query(
                """
                INSERT INTO alive (one, at) VALUES (true, \(millis))
                ON CONFLICT (one) DO UPDATE SET at = GREATEST(alive.at, EXCLUDED.at)
                """, logger: quiet
            ).collect()
        }
    }

    public func lastAlive() async throws -> Timestamp? {
        let quiet = self.quiet
        return try await call("last alive") { conn -> Timestamp? in
            var found: Int64?
            for try await at in try await conn.query("SELECT at FROM alive WHERE one", logger: quiet).decode(
                Int64.self)
            {
                found = at
            }
            return found.map { Timestamp(millis: $0) }
        }
    }
}
