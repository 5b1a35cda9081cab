import Foundation
import GRDB
import VigilCore

/// The chained event log on SQLite: each event's `data_sha256` and `hash` are written with it, in its transaction,
/// chained from the last committed event (docs/contract.md, "A tamper-evident log").
extension SQLiteStore: AuditLog {
    /// v9: the chain's columns, kept fixed once set, and an index of the events not chained yet (empty once the
    /// store has been opened with its key).
    static func migrateChain(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE events ADD COLUMN data_sha256 BLOB;
                ALTER TABLE events ADD COLUMN hash BLOB;
                CREATE INDEX events_unchained ON events(seq) WHERE hash IS NULL;
                CREATE TRIGGER events_chain_fixed BEFORE UPDATE OF data_sha256, hash ON events
                    WHEN OLD.hash IS NOT NULL
                    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
                """)
    }

    /// The last event's seq and hash, chaining first whatever is not chained yet.
    func chainTip(_ db: Database) throws -> (seq: Int64, hash: [UInt8]) {
        for _ in 0..<2 {
            guard let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1") else {
                return (0, AuditChain.genesis)
            }
            if let hash = row["hash"] as Data? { return (row["seq"], Array(hash)) }
            _ = try chainUnchained(db)
        }
        // Not chainable (the data does not open without the key this store was opened without): chain on from
        // zero, which `verify` reports at this seq rather than losing the write.
        let seq = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM events") ?? 0
        return (seq, AuditChain.genesis)
    }

    /// Chains the events written before the chain existed, in `seq` order, from the last chained one before them.
    /// Returns how many; 0 without writing anything when their data does not read (a sealed store opened without
    /// its key: the opening with the key chains them). Data that does not open with the key is chained with a zero
    /// digest, which `verify` reports.
    @discardableResult
    func chainUnchained(_ db: Database) throws -> Int {
        guard let first = try Int64.fetchOne(db, sql: "SELECT min(seq) FROM events WHERE hash IS NULL") else {
            return 0
        }
        var previous =
            try Data.fetchOne(
                db, sql: "SELECT hash FROM events WHERE seq < ? ORDER BY seq DESC LIMIT 1", arguments: [first]
            ).map(Array.init) ?? AuditChain.genesis
        var updates: [(seq: Int64, digest: Data, hash: Data)] = []
        let rows = try Row.fetchCursor(
            db, sql: "SELECT seq, session_id, type, at, data, hash FROM events WHERE seq >= ? ORDER BY seq",
            arguments: [first])
        while let row = try rows.next() {
            if let hash = row["hash"] as Data? {
                previous = Array(hash)
                continue
            }
            let seq: Int64 = row["seq"]
            let sid: String? = row["session_id"]
            let digest: [UInt8]
            if let data = try? openEventData(row["data"], sessionID: sid) {
                digest = try AuditChain.dataDigest(data)
            } else {
                if sealer == nil { return 0 }
                digest = [UInt8](repeating: 0, count: 32)
            }
            let hash = AuditChain.link(
                previous: previous, seq: seq, type: row["type"], at: Timestamp(millis: row["at"]).rfc3339,
                sessionID: sid, dataSHA256: digest)
            updates.append((seq, Data(digest), Data(hash)))
            previous = hash
        }
        let statement = try db.cachedStatement(sql: "UPDATE events SET data_sha256 = ?, hash = ? WHERE seq = ?")
        for u in updates { try statement.execute(arguments: [u.digest, u.hash, u.seq]) }
        return updates.count
    }

    /// An event's data, opened and parsed.
    func openEventData(_ sealed: Data, sessionID: String?) throws -> JSONValue {
        try VigilJSON.decode(
            JSONValue.self, from: unseal(Array(sealed), Self.context(events: sessionID.map { SessionID(rawValue: $0) }))
        )
    }

    public func auditHead() async throws -> AuditHead {
        try await read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT seq, hash, at FROM events ORDER BY seq DESC LIMIT 1")
            else { return AuditHead(seq: 0, hash: AuditChain.genesis, at: nil) }
            return AuditHead(
                seq: row["seq"], hash: (row["hash"] as Data?).map(Array.init) ?? AuditChain.genesis,
                at: Timestamp(millis: row["at"]))
        }
    }

    public func auditRecords(after seq: Int64, to: Int64?, limit: Int) async throws -> [AuditRecord] {
        try await read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT seq, session_id, type, at, data, data_sha256, hash FROM events
                    WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?
                    """, arguments: [seq, to ?? Int64.max, limit])
            var out: [AuditRecord] = []
            out.reserveCapacity(min(limit, 10_000))
            while let row = try rows.next() {
                let sid: String? = row["session_id"]
                out.append(
                    AuditRecord(
                        seq: row["seq"], type: row["type"], at: Timestamp(millis: row["at"]).rfc3339, sessionID: sid,
                        data: try? self.openEventData(row["data"], sessionID: sid),
                        dataSHA256: (row["data_sha256"] as Data?).map(Array.init),
                        hash: (row["hash"] as Data?).map(Array.init)))
            }
            return out
        }
    }
}
