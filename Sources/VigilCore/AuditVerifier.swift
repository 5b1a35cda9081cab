/// Checks a chained event log, one event at a time in `seq` order (`vigil audit verify`): every link, and for every
/// event not purged, that its data still has its digest. A purged event (data `{"purged": true}` under another
/// digest) is allowed only for a session that ended longer ago than the retention period.
public struct AuditVerifier: Sendable {
    /// Where the log stops following.
    public struct Failure: Hashable, Sendable, CustomStringConvertible {
        /// The first `seq` that does not follow.
        public var seq: Int64
        /// Why, naming no stored value.
        public var reason: String

        public var description: String { "seq \(seq) does not follow: \(reason)" }
    }

    /// What a whole run found.
    public struct Outcome: Hashable, Sendable {
        /// Events checked.
        public var count: Int
        /// Of which purged.
        public var purged: Int
        /// The last event read.
        public var head: AuditHead
        /// The first event that does not follow, if any.
        public var failure: Failure?
        /// The first `seq` read (its link unchecked when the log was read from later than the start).
        public var first: Int64?
    }

    private let retention: Millis
    private let partial: Bool
    private var previous = AuditChain.genesis
    private var previousSeq: Int64 = 0
    private var count = 0
    private var purged: [(seq: Int64, session: String?)] = []
    private var ended: [String: Timestamp] = [:]
    private var failure: Failure?
    private var head = AuditHead(seq: 0, hash: AuditChain.genesis, at: nil)
    private var first: Int64?

    /// A verifier; `retention` is how long an ended session keeps its personal data. With `partial`, the first
    /// event read may come after seq 1 and its own link is taken as given (an export made with `--from`).
    public init(retention: Millis, partial: Bool = false) {
        self.retention = retention
        self.partial = partial
    }

    /// Checks the next event.
    public mutating func feed(_ r: AuditRecord) {
        if r.type == EventType.sessionEnded.rawValue, let sid = r.sessionID, let t = Timestamp(rfc3339: r.at) {
            ended[sid] = t
        }
        guard failure == nil else { return }
        let isFirst = first == nil
        if isFirst { first = r.seq }
        guard r.seq > previousSeq else {
            return fail(r.seq, "it comes after seq \(previousSeq) in the log")
        }
        guard let hash = r.hash, hash.count == 32 else { return fail(r.seq, "it has no hash") }
        guard let digest = r.dataSHA256, digest.count == 32 else { return fail(r.seq, "it has no data_sha256") }
        let expected = AuditChain.link(
            previous: previous, seq: r.seq, type: r.type, at: r.at, sessionID: r.sessionID, dataSHA256: digest)
        if expected != hash && !(isFirst && partial) {
            if r.seq > previousSeq + 1 {
                return fail(previousSeq + 1, "it is missing (the log goes from seq \(previousSeq) to seq \(r.seq))")
            }
            return fail(r.seq, "its hash does not chain from seq \(previousSeq): changed, moved or inserted")
        }
        guard let data = r.data else { return fail(r.seq, "its data cannot be read") }
        let actual = try? AuditChain.dataDigest(data)
        if actual != digest {
            guard data == AuditChain.purgedData else { return fail(r.seq, "its data does not have its data_sha256") }
            purged.append((r.seq, r.sessionID))
        }
        count += 1
        previous = hash
        previousSeq = r.seq
        head = AuditHead(seq: r.seq, hash: hash, at: Timestamp(rfc3339: r.at))
    }

    /// The outcome, judging purged events against `now`.
    public func finish(now: Timestamp) -> Outcome {
        var failure = self.failure
        for p in purged where failure.map({ p.seq < $0.seq }) ?? true {
            guard let sid = p.session else {
                failure = Failure(seq: p.seq, reason: "it was purged but belongs to no session")
                break
            }
            guard let end = ended[sid] else {
                failure = Failure(seq: p.seq, reason: "it was purged but its session has not ended")
                break
            }
            if end + retention > now {
                failure = Failure(seq: p.seq, reason: "it was purged while its session is inside the retention period")
                break
            }
        }
        return Outcome(count: count, purged: purged.count, head: head, failure: failure, first: first)
    }

    private mutating func fail(_ seq: Int64, _ reason: String) {
        failure = Failure(seq: seq, reason: reason)
    }
}
