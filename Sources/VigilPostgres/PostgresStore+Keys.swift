import Foundation
import PostgresNIO
import VigilCore

/// The encryption key as the database knows it, for a rotation shared by every instance: the current key's id and
/// check value, the key being retired while rows may still be sealed with it, and which keys each live instance
/// holds and seals with.
extension PostgresStore {
    /// The keys the database names.
    public struct StoredKeys: Sendable, Equatable {
        /// The key every instance seals with.
        public var keyID: String
        /// The fixed text sealed with it.
        public var check: [UInt8]
        /// The key being retired, while a rotation re-seals.
        public var previousKeyID: String?
        /// Its check value.
        public var previousCheck: [UInt8]?
    }

    /// What one instance reported of its keys.
    public struct KeyHolder: Sendable, Equatable {
        /// The instance's name.
        public var instance: String
        /// The id bytes of every key it holds.
        public var opens: Set<UInt8>
        /// The id byte of the key it seals with.
        public var seals: UInt8
    }

    /// The fixed text whose sealed form is a key's check value.
    public static var keyCheckText: [UInt8] { keyCheckPlaintext }

    /// The id byte a sealed blob names (format 2), or nil.
    public static func keyByte(of blob: [UInt8]) -> UInt8? { blob.count > 2 && blob[0] == 2 ? blob[1] : nil }

    /// The keys the database names now.
    public func storedKeys() async throws -> StoredKeys {
        let quiet = self.quiet
        return try await call("stored keys") { conn in
            var found: StoredKeys?
            for try await (id, check, pid, pcheck) in try await conn.query(
                "SELECT key_id, check_value, previous_key_id, previous_check_value FROM encryption_key", logger: quiet
            ).decode((String, Data, String?, Data?).self) {
                found = StoredKeys(
                    keyID: id, check: Array(check), previousKeyID: pid, previousCheck: pcheck.map(Array.init))
            }
            guard let found else { throw VigilError.unavailable("the database names no encryption key") }
            return found
        }
    }

    /// Records which keys this instance holds and seals with (the rotation waits for every live instance).
    public func reportKeys(instance: String, opens: Set<UInt8>, seals: UInt8) async throws {
        let list = opens.sorted().map(String.init).joined(separator: ",")
        let sealing = Int64(seals)
        let quiet = self.quiet
        try await call("report keys") { conn in
            _ = try await conn.query(
                """
                INSERT INTO key_holders (instance, opens, seals, seen_at) VALUES (\(instance), \(list), \(sealing),
                clock_timestamp()) ON CONFLICT (instance) DO UPDATE SET opens = excluded.opens,
                seals = excluded.seals, seen_at = excluded.seen_at
                """, logger: quiet
            ).collect()
        }
    }

    /// The instances that reported within `seconds` of the database's clock.
    public func keyHolders(seenWithin seconds: Int) async throws -> [KeyHolder] {
        let quiet = self.quiet
        let window = Double(seconds)
        return try await call("key holders") { conn in
            var out: [KeyHolder] = []
            for try await (instance, opens, seals) in try await conn.query(
                """
                SELECT instance, opens, seals FROM key_holders
                WHERE seen_at > clock_timestamp() - make_interval(secs => \(window))
                """, logger: quiet
            ).decode((String, String, Int64).self) {
                let ids = Set(opens.split(separator: ",").compactMap { UInt8($0) })
                out.append(KeyHolder(instance: instance, opens: ids, seals: UInt8(clamping: seals)))
            }
            return out
        }
    }

    /// Names `keyID` (with its check value) the current key and the current one the key being retired, if the
    /// current key is still `from`; false when another rotation moved it first.
    public func beginKeyRotation(from: String, to keyID: String, check: [UInt8]) async throws -> Bool {
        let quiet = self.quiet
        let value = Data(check)
        return try await transaction("begin key rotation") { conn in
            var changed = false
            for try await _ in try await conn.query(
                """
                UPDATE encryption_key SET previous_key_id = key_id, previous_check_value = check_value,
                key_id = \(keyID), check_value = \(value) WHERE key_id = \(from) AND previous_key_id IS NULL
                RETURNING key_id
                """, logger: quiet
            ).decode(String.self) {
                changed = true
            }
            return changed
        }
    }

    /// Forgets the key being retired, once no row is sealed with it.
    public func retirePreviousKey(current: String) async throws {
        let quiet = self.quiet
        try await call("retire key") { conn in
            _ = try await conn.query(
                """
                UPDATE encryption_key SET previous_key_id = NULL, previous_check_value = NULL
                WHERE key_id = \(current)
                """, logger: quiet
            ).collect()
        }
    }

    /// A table whose rows hold a sealed blob: its key, the part of the blob's context that names the row, the
    /// column, and the context's prefix.
    struct SealedColumn: Sendable {
        var table: String
        var key: String
        var contextPart: String
        var column: String
        var prefix: String
        var numericKey: Bool
    }

    static let sealedColumns = [
        SealedColumn(
            table: "sessions", key: "id", contextPart: "id", column: "snapshot", prefix: "sessions:", numericKey: false),
        SealedColumn(
            table: "events", key: "seq", contextPart: "coalesce(session_id, '-')", column: "data", prefix: "events:",
            numericKey: true),
        SealedColumn(
            table: "outbox", key: "id", contextPart: "id", column: "body", prefix: "outbox:", numericKey: false),
        SealedColumn(
            table: "plans", key: "name_hash", contextPart: "name_hash", column: "body", prefix: "plans:",
            numericKey: false),
    ]

    /// Re-seals with this store's sealer, in short transactions of `batch` rows each (each row locked while it is
    /// re-sealed, so a concurrent write waits and then writes its own blob), every blob not sealed with key
    /// `keep`. Returns how many.
    public func resealAll(keeping keep: UInt8, batch: Int = 200) async throws -> Int {
        var total = 0
        for c in Self.sealedColumns {
            var cursor = c.numericKey ? "0" : ""
            while true {
                let (count, last) = try await resealBatch(c, keeping: keep, after: cursor, limit: batch)
                total += count
                guard let last else { break }
                cursor = last
            }
        }
        return total
    }

    func resealBatch(_ c: SealedColumn, keeping keep: UInt8, after cursor: String, limit: Int) async throws -> (
        Int, String?
    ) {
        let quiet = self.quiet
        let sealer = self.sealer
        let keepID = Int32(keep)
        let n = Int64(limit)
        let cast = c.numericKey ? "::bigint" : ""
        return try await transaction("re-seal") { conn in
            var rows: [(String, String, Data)] = []
            for try await r in try await conn.query(
                """
                SELECT \(unescaped: c.key)::text, \(unescaped: c.contextPart), \(unescaped: c.column)
                FROM \(unescaped: c.table) WHERE \(unescaped: c.key) > \(cursor)\(unescaped: cast)
                AND \(unescaped: Self.sealedWithOther(c.column))\(keepID) END
                ORDER BY \(unescaped: c.key) LIMIT \(n) FOR UPDATE
                """, logger: quiet
            ).decode((String, String, Data).self) {
                rows.append(r)
            }
            var count = 0
            for (key, part, blob) in rows {
                let bytes = Array(blob)
                if bytes.isEmpty || Self.keyByte(of: bytes) == UInt8(keepID) { continue }
                let context = c.prefix + part
                let sealed = Data(try sealer.seal(try sealer.open(bytes, context: context), context: context))
                _ = try await conn.query(
                    """
                    UPDATE \(unescaped: c.table) SET \(unescaped: c.column) = \(sealed)
                    WHERE \(unescaped: c.key) = \(key)\(unescaped: cast)
                    """, logger: quiet
                ).collect()
                count += 1
            }
            return (count, rows.count < limit ? nil : rows.last?.0)
        }
    }

    /// The start of a SQL test, true for a non-empty blob in `column` not sealed with the key whose id follows (a
    /// bind, then `END`): `CASE` keeps `get_byte` off blobs too short for it.
    static func sealedWithOther(_ column: String) -> String {
        "CASE WHEN length(\(column)) = 0 THEN false WHEN length(\(column)) < 3 THEN true "
            + "ELSE get_byte(\(column), 0) <> 2 OR get_byte(\(column), 1) <> "
    }

    /// How many blobs are sealed with a key other than `keep` (empty ones aside).
    public func countSealed(notWith keep: UInt8) async throws -> Int {
        let quiet = self.quiet
        let keepID = Int32(keep)
        var total = 0
        for c in Self.sealedColumns {
            total += try await call("count sealed") { conn in
                var n: Int64 = 0
                for try await v in try await conn.query(
                    """
                    SELECT count(*) FROM \(unescaped: c.table)
                    WHERE \(unescaped: Self.sealedWithOther(c.column))\(keepID) END
                    """, logger: quiet
                ).decode(Int64.self) {
                    n = v
                }
                return Int(n)
            }
        }
        return total
    }
}
