import Testing
import VigilCore

/// The chain's verifier on records built in memory: what follows, and the exact seq named when something does not.
@Suite("audit chain verification")
struct AuditVerifierTests {
    static let day = Millis.seconds(86_400)
    static let t0 = Timestamp(millis: 1_790_000_000_000)

    /// A chained log: two sessions' events and a system event; session `ses_a` ends at `t0 + 5 s`.
    static func log() throws -> [AuditRecord] {
        let events: [(String, String?, JSONValue)] = [
            ("session.started", "ses_a", ["alias": "Sam"]),
            ("check_in.received", "ses_a", ["note": "fine", "n": .double(0.1)]),
            ("system.alarm", nil, ["reason": "watchdog"]),
            ("session.started", "ses_b", [:]),
            ("session.ended", "ses_a", ["by": "op"]),
            ("check_in.received", "ses_b", ["note": "here"]),
        ]
        var previous = AuditChain.genesis
        return try events.enumerated().map { i, e in
            let seq = Int64(i + 1)
            let at = (t0 + Millis(Int64(i) * 1000)).rfc3339
            let digest = try AuditChain.dataDigest(e.2)
            previous = AuditChain.link(
                previous: previous, seq: seq, type: e.0, at: at, sessionID: e.1, dataSHA256: digest)
            return AuditRecord(
                seq: seq, type: e.0, at: at, sessionID: e.1, data: e.2, dataSHA256: digest, hash: previous)
        }
    }

    static func verify(_ records: [AuditRecord], now: Timestamp = t0 + day, partial: Bool = false)
        -> AuditVerifier.Outcome
    {
        var v = AuditVerifier(retention: .seconds(3600), partial: partial)
        for r in records { v.feed(r) }
        return v.finish(now: now)
    }

    @Test("an untouched log follows, and its head is the last event")
    func untouched() throws {
        let log = try Self.log()
        let o = Self.verify(log)
        #expect(o.failure == nil)
        #expect(o.count == 6 && o.purged == 0)
        #expect(o.head.seq == 6 && o.head.hash == log[5].hash)
    }

    @Test("a changed data names its seq")
    func changedData() throws {
        var log = try Self.log()
        log[1].data = ["note": "changed", "n": .double(0.1)]
        #expect(Self.verify(log).failure?.seq == 2)
    }

    @Test("a changed type, time or session names its seq")
    func changedHeader() throws {
        var log = try Self.log()
        log[3].type = "session.ended"
        #expect(Self.verify(log).failure?.seq == 4)
        log = try Self.log()
        log[2].sessionID = "ses_a"
        #expect(Self.verify(log).failure?.seq == 3)
    }

    @Test("a removed event is named as missing")
    func removed() throws {
        var log = try Self.log()
        log.remove(at: 2)
        let f = Self.verify(log).failure
        #expect(f?.seq == 3)
        #expect(f?.reason.contains("missing") == true)
        // The first event removed: nothing chains from the genesis.
        log = try Self.log()
        log.removeFirst()
        #expect(Self.verify(log).failure?.seq == 1)
    }

    @Test("two events swapped (rows and numbers) name the first place")
    func swapped() throws {
        var log = try Self.log()
        log.swapAt(2, 3)
        #expect(Self.verify(log).failure?.seq == 3)
        log = try Self.log()
        (log[2].seq, log[3].seq) = (log[3].seq, log[2].seq)
        log.swapAt(2, 3)
        #expect(Self.verify(log).failure?.seq == 3)
    }

    @Test("a purged event of a session ended longer ago than the retention period follows")
    func purgedAfterRetention() throws {
        var log = try Self.log()
        log[1].data = AuditChain.purgedData
        log[4].data = AuditChain.purgedData
        let o = Self.verify(log)
        #expect(o.failure == nil)
        #expect(o.purged == 2)
    }

    @Test("a purged event inside the retention period, of an open session or of no session, names its seq")
    func purgedTooEarly() throws {
        var log = try Self.log()
        log[1].data = AuditChain.purgedData
        #expect(Self.verify(log, now: Self.t0 + .seconds(60)).failure?.seq == 2)
        log = try Self.log()
        log[5].data = AuditChain.purgedData
        #expect(Self.verify(log).failure?.seq == 6)
        log = try Self.log()
        log[2].data = AuditChain.purgedData
        #expect(Self.verify(log).failure?.seq == 3)
    }

    @Test("a file from a later seq verifies only when read as partial")
    func partial() throws {
        let log = Array(try Self.log().dropFirst(2))
        #expect(Self.verify(log).failure?.seq == 1)
        let o = Self.verify(log, partial: true)
        #expect(o.failure == nil && o.first == 3 && o.count == 4)
    }

    @Test("an export line reads back as the record it was written from")
    func exportLine() throws {
        for r in try Self.log() {
            let line = try JSONValue(jsonBytes: CanonicalJSON.bytes(r.json))
            #expect(try AuditRecord(json: line) == r)
        }
    }
}
