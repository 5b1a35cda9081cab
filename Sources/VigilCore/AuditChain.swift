/// The tamper-evident event log (docs/contract.md, "A tamper-evident log"): every event carries `data_sha256`, the
/// SHA-256 of the RFC 8785 form of its data as written, and `hash`, the SHA-256 of the previous event's hash (32
/// raw bytes; 32 zero bytes before the first event) followed by the RFC 8785 form of
/// `{"seq", "type", "at", "session_id", "data_sha256"}`. The chain covers the data only through its digest, so the
/// retention purge can empty an event's data and leave the chain whole.
public enum AuditChain {
    /// The hash before the first event.
    public static let genesis = [UInt8](repeating: 0, count: 32)

    /// What the retention purge leaves of an event's data.
    public static let purgedData: JSONValue = ["purged": true]

    /// The digest of an event's data as written; throws when it holds a number with no JSON form.
    public static func dataDigest(_ data: JSONValue) throws -> [UInt8] {
        SHA256Digest.hash(try CanonicalJSON.bytes(data))
    }

    /// The RFC 8785 text of an event's header, split around its `seq` (the keys sort as `at`, `data_sha256`,
    /// `seq`, `session_id`, `type`): a store that numbers events inside its transaction puts the number between.
    public static func header(type: String, at: String, sessionID: String?, dataSHA256: [UInt8]) -> (
        head: [UInt8], tail: [UInt8]
    ) {
        var head: [UInt8] = Array("{\"at\":".utf8)
        JSONCodec.writeString(at, into: &head)
        head.append(contentsOf: ",\"data_sha256\":\"".utf8)
        head.append(contentsOf: SHA256Digest.hex(bytes: dataSHA256).utf8)
        head.append(contentsOf: "\",\"seq\":".utf8)
        var tail: [UInt8] = Array(",\"session_id\":".utf8)
        if let sessionID { JSONCodec.writeString(sessionID, into: &tail) } else { tail.append(contentsOf: "null".utf8) }
        tail.append(contentsOf: ",\"type\":".utf8)
        JSONCodec.writeString(type, into: &tail)
        tail.append(UInt8(ascii: "}"))
        return (head, tail)
    }

    /// The hash of an event that follows `previous`.
    public static func link(
        previous: [UInt8], seq: Int64, type: String, at: String, sessionID: String?, dataSHA256: [UInt8]
    ) -> [UInt8] {
        let (head, tail) = header(type: type, at: at, sessionID: sessionID, dataSHA256: dataSHA256)
        var message = previous
        message.reserveCapacity(previous.count + head.count + tail.count + 20)
        message.append(contentsOf: head)
        message.append(contentsOf: String(seq).utf8)
        message.append(contentsOf: tail)
        return SHA256Digest.hash(message)
    }
}

/// The last event of the chain, to be written down somewhere else (`GET /v1/audit/head`).
public struct AuditHead: Hashable, Sendable {
    /// Its sequence number (0 when the log is empty).
    public var seq: Int64
    /// Its hash (the genesis hash when the log is empty).
    public var hash: [UInt8]
    /// When it happened (nil when the log is empty).
    public var at: Timestamp?

    /// Creates a head.
    public init(seq: Int64, hash: [UInt8], at: Timestamp?) {
        self.seq = seq
        self.hash = hash
        self.at = at
    }

    /// `{"seq", "hash", "at"}`.
    public var json: JSONValue {
        ["seq": .int(seq), "hash": .string(SHA256Digest.hex(bytes: hash)), "at": .time(at)]
    }
}

/// One event as the chain sees it: what the export writes and what `verify` checks.
public struct AuditRecord: Hashable, Sendable {
    /// Its sequence number.
    public var seq: Int64
    /// Its type, as stored.
    public var type: String
    /// When, as RFC 3339 (`Timestamp.rfc3339`).
    public var at: String
    /// Its session, nil for a system event.
    public var sessionID: String?
    /// Its data as it reads now; nil when it cannot be read.
    public var data: JSONValue?
    /// The stored digest of its data as written; nil when missing.
    public var dataSHA256: [UInt8]?
    /// The stored chain hash; nil when missing.
    public var hash: [UInt8]?

    /// Creates a record.
    public init(
        seq: Int64, type: String, at: String, sessionID: String?, data: JSONValue?, dataSHA256: [UInt8]?,
        hash: [UInt8]?
    ) {
        self.seq = seq
        self.type = type
        self.at = at
        self.sessionID = sessionID
        self.data = data
        self.dataSHA256 = dataSHA256
        self.hash = hash
    }

    /// The export's line: `{"seq", "type", "at", "session_id", "data", "data_sha256", "hash"}`.
    public var json: JSONValue {
        [
            "seq": .int(seq), "type": .string(type), "at": .string(at), "session_id": .optional(sessionID),
            "data": data ?? .null, "data_sha256": .optional(dataSHA256.map { SHA256Digest.hex(bytes: $0) }),
            "hash": .optional(hash.map { SHA256Digest.hex(bytes: $0) }),
        ]
    }

    /// Reads an export line; throws `invalid` naming what is wrong.
    public init(json line: JSONValue) throws {
        guard case .object(let o) = line else { throw VigilError.invalid("a line is not a JSON object") }
        guard let seq = o["seq"]?.intValue else { throw VigilError.invalid("a line has no integer seq") }
        guard let type = o["type"]?.stringValue, let at = o["at"]?.stringValue else {
            throw VigilError.invalid("the line of seq \(seq) has no type or at")
        }
        let sid: String?
        switch o["session_id"] {
        case .string(let s): sid = s
        case .null, nil: sid = nil
        default: throw VigilError.invalid("the line of seq \(seq) has a session_id that is not a string")
        }
        self.init(
            seq: seq, type: type, at: at, sessionID: sid, data: o["data"],
            dataSHA256: o["data_sha256"]?.stringValue.flatMap(Self.digest),
            hash: o["hash"]?.stringValue.flatMap(Self.digest))
    }

    /// 64 lower-case hex digits as 32 bytes; nil otherwise.
    static func digest(_ hex: String) -> [UInt8]? {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        return SHA256Digest.bytes(hex: hex)
    }
}

/// A store whose event log is chained.
public protocol AuditLog: Sendable {
    /// The last event's seq, hash and time.
    func auditHead() async throws -> AuditHead
    /// Up to `limit` events after `seq`, up to `to` (inclusive; nil: to the end), in `seq` order, their data
    /// opened. A row whose data cannot be opened is given with `data` nil.
    func auditRecords(after seq: Int64, to: Int64?, limit: Int) async throws -> [AuditRecord]
}
