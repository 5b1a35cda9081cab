import Foundation
import Logging
import PostgresNIO
import VigilCore

extension PostgresSchema {
    /// Migration 8: each event's `data_sha256` and `hash`, fixed once set; the last hash kept with the event counter,
    /// whose row lock already serializes every commit that appends events; and one function that numbers, chains
    /// and inserts a commit's events in one statement, so the lock is held no longer than before.
    static let chain: [String] = [
        "ALTER TABLE events ADD COLUMN data_sha256 bytea, ADD COLUMN hash bytea",
        "CREATE INDEX events_unchained ON events (seq) WHERE hash IS NULL",
        "ALTER TABLE event_seq ADD COLUMN hash bytea NOT NULL DEFAULT decode(repeat('00', 32), 'hex')",
        // An update may still only rewrite `data` (the retention purge); the chain's columns are set once.
        """
        CREATE OR REPLACE FUNCTION vigil_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW.seq = OLD.seq AND NEW.session_id IS NOT DISTINCT FROM OLD.session_id
                AND NEW.type = OLD.type AND NEW.at = OLD.at
                AND (OLD.hash IS NULL OR (NEW.hash = OLD.hash AND NEW.data_sha256 = OLD.data_sha256)) THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'the event log is append-only' USING ERRCODE = 'restrict_violation';
        END
        $$
        """,
        // `heads[i]` and `tails[i]` are the RFC 8785 text of event i's header before and after its seq (written by
        // `AuditChain.header`): the seq is only known here, under the counter's lock.
        """
        CREATE FUNCTION vigil_append_events(sids text[], types text[], ats bigint[], datas bytea[],
            digests bytea[], heads bytea[], tails bytea[]) RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE
            n bigint := coalesce(cardinality(types), 0);
            base bigint;
            h bytea;
            hashes bytea[] := ARRAY[]::bytea[];
        BEGIN
            SELECT last, hash INTO base, h FROM event_seq WHERE one FOR UPDATE;
            FOR i IN 1..n LOOP
                h := sha256(h || heads[i] || convert_to((base + i)::text, 'UTF8') || tails[i]);
                hashes := array_append(hashes, h);
            END LOOP;
            UPDATE event_seq SET last = base + n, hash = h WHERE one;
            INSERT INTO events (seq, session_id, type, at, data, data_sha256, hash)
                SELECT base + u.ord, nullif(u.sid, ''), u.t, u.a, u.d, u.ds, u.hh
                FROM unnest(sids, types, ats, datas, digests, hashes) WITH ORDINALITY AS u(sid, t, a, d, ds, hh, ord);
            PERFORM pg_notify('vigil_events', (base + n)::text);
            RETURN base + n;
        END
        $$
        """,
    ]
}

/// The chained event log on PostgreSQL (docs/contract.md, "A tamper-evident log").
extension PostgresStore: AuditLog {
    /// Chains the events written before the chain existed, in `seq` order, inside the migration's transaction;
    /// returns how many. Data that does not open is chained with a zero digest, which `verify` reports.
    static func chainUnchained(_ conn: PostgresConnection, sealer: any DataSealer, logger quiet: Logger) async throws
        -> Int
    {
        var first: Int64?
        for try await v in try await conn.query("SELECT min(seq) FROM events WHERE hash IS NULL", logger: quiet)
            .decode(Int64?.self)
        {
            first = v
        }
        guard let first else { return 0 }
        var previous = AuditChain.genesis
        for try await h in try await conn.query(
            "SELECT hash FROM events WHERE seq < \(first) ORDER BY seq DESC LIMIT 1", logger: quiet
        ).decode(Data?.self) {
            previous = h.map(Array.init) ?? AuditChain.genesis
        }
        var cursor = first - 1
        var count = 0
        while true {
            var seqs: [Int64] = []
            var digests: [ByteBuffer] = []
            var hashes: [ByteBuffer] = []
            var last: Int64?
            for try await (seq, sid, type, at, data, stored) in try await conn.query(
                """
                SELECT seq, session_id, type, at, data, hash FROM events WHERE seq > \(cursor) ORDER BY seq LIMIT 5000
                """, logger: quiet
            ).decode((Int64, String?, String, Int64, Data, Data?).self) {
                last = seq
                if let stored {
                    previous = Array(stored)
                    continue
                }
                let context = context(events: sid.map { SessionID(rawValue: $0) })
                let digest =
                    (try? AuditChain.dataDigest(
                        VigilJSON.decode(JSONValue.self, from: sealer.open(Array(data), context: context))))
                    ?? [UInt8](repeating: 0, count: 32)
                previous = AuditChain.link(
                    previous: previous, seq: seq, type: type, at: Timestamp(millis: at).rfc3339, sessionID: sid,
                    dataSHA256: digest)
                seqs.append(seq)
                digests.append(ByteBuffer(bytes: digest))
                hashes.append(ByteBuffer(bytes: previous))
            }
            guard let last else { break }
            cursor = last
            if !seqs.isEmpty {
                _ = try await conn.query(
                    """
                    UPDATE events e SET data_sha256 = u.ds, hash = u.h
                    FROM unnest(\(seqs)::bigint[], \(digests)::bytea[], \(hashes)::bytea[]) AS u(seq, ds, h)
                    WHERE e.seq = u.seq
                    """, logger: quiet
                ).collect()
                count += seqs.count
            }
        }
        let tip = ByteBuffer(bytes: previous)
        _ = try await conn.query("UPDATE event_seq SET hash = \(tip) WHERE one", logger: quiet).collect()
        return count
    }

    public func auditHead() async throws -> AuditHead {
        let quiet = self.quiet
        return try await call("audit head") { conn in
            var head = AuditHead(seq: 0, hash: AuditChain.genesis, at: nil)
            for try await (seq, hash, at) in try await conn.query(
                "SELECT seq, hash, at FROM events ORDER BY seq DESC LIMIT 1", logger: quiet
            ).decode((Int64, Data?, Int64).self) {
                head = AuditHead(seq: seq, hash: hash.map(Array.init) ?? AuditChain.genesis, at: Timestamp(millis: at))
            }
            return head
        }
    }

    public func auditRecords(after seq: Int64, to: Int64?, limit: Int) async throws -> [AuditRecord] {
        let quiet = self.quiet
        let n = Self.limit(limit)
        let to = to ?? Int64.max
        let rows = try await call("audit records") { conn in
            var out: [(Int64, String?, String, Int64, Data, Data?, Data?)] = []
            for try await row in try await conn.query(
                """
                SELECT seq, session_id, type, at, data, data_sha256, hash FROM events
                WHERE seq > \(seq) AND seq <= \(to) ORDER BY seq LIMIT \(n)
                """, logger: quiet
            ).decode((Int64, String?, String, Int64, Data, Data?, Data?).self) {
                out.append(row)
            }
            return out
        }
        let sealer = self.sealer
        return rows.map { (seq, sid, type, at, data, digest, hash) in
            let context = Self.context(events: sid.map { SessionID(rawValue: $0) })
            return AuditRecord(
                seq: seq, type: type, at: Timestamp(millis: at).rfc3339, sessionID: sid,
                data: try? VigilJSON.decode(JSONValue.self, from: sealer.open(Array(data), context: context)),
                dataSHA256: digest.map(Array.init), hash: hash.map(Array.init))
        }
    }
}
