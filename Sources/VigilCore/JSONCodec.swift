/// A direct JSON writer and parser for `JSONValue`: the same text and the same values as Foundation's
/// `JSONEncoder` (sorted keys, slashes unescaped) and `JSONDecoder` give through `JSONValue`'s `Codable`
/// conformance, without their per-value containers, boxing and thrown-and-caught type probes. Event data and
/// webhook bodies pass through here on every command, so this is on the hot path.
enum JSONCodec {
    /// Nesting deeper than this is refused, as hostile input.
    static let maxDepth = 512

    // MARK: Writing

    static func write(_ v: JSONValue, into out: inout [UInt8]) throws {
        switch v {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d): try writeDouble(d, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, e) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                try write(e, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, key) in o.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                // The key came from the dictionary itself.
                try write(o[key] ?? .null, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeDouble(_ d: Double, into out: inout [UInt8]) throws {
        guard d.isFinite else { throw VigilError.invalid("a number is not finite and has no JSON form") }
        var text = d.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out.append(contentsOf: text.utf8)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0..<0x20:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    // MARK: Parsing

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBufferPointer { buf in
            var p = Parser(buf: buf)
            // A byte order mark is skipped, as JSONDecoder skips it.
            if buf.count >= 3, buf[0] == 0xEF, buf[1] == 0xBB, buf[2] == 0xBF { p.i = 3 }
            p.skipSpace()
            let v = try p.value(depth: 0)
            p.skipSpace()
            guard p.i == buf.count else { throw p.failure("unexpected text after the value") }
            return v
        }
    }

    private struct Parser {
        let buf: UnsafeBufferPointer<UInt8>
        var i = 0

        func failure(_ what: String) -> VigilError { .invalid("malformed JSON at byte \(i): \(what)") }

        mutating func skipSpace() {
            while i < buf.count, buf[i] == 0x20 || buf[i] == 0x0A || buf[i] == 0x0D || buf[i] == 0x09 { i += 1 }
        }

        mutating func literal(_ word: StaticString, _ v: JSONValue) throws -> JSONValue {
            let n = word.utf8CodeUnitCount
            guard buf.count - i >= n else { throw failure("unexpected end") }
            for k in 0..<n where buf[i + k] != word.utf8Start[k] { throw failure("unknown literal") }
            i += n
            return v
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard depth <= JSONCodec.maxDepth else { throw failure("nested too deeply") }
            guard i < buf.count else { throw failure("unexpected end") }
            switch buf[i] {
            case UInt8(ascii: "{"):
                i += 1
                var o: [String: JSONValue] = [:]
                skipSpace()
                if i < buf.count, buf[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(o)
                }
                while true {
                    skipSpace()
                    guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw failure("expected a key") }
                    let key = try string()
                    skipSpace()
                    guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw failure("expected ':'") }
                    i += 1
                    skipSpace()
                    let v = try value(depth: depth + 1)
                    // The first of duplicate keys wins, as with JSONDecoder.
                    if o[key] == nil { o[key] = v }
                    skipSpace()
                    guard i < buf.count else { throw failure("unexpected end") }
                    if buf[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard buf[i] == UInt8(ascii: "}") else { throw failure("expected ',' or '}'") }
                    i += 1
                    return .object(o)
                }
            case UInt8(ascii: "["):
                i += 1
                var a: [JSONValue] = []
                skipSpace()
                if i < buf.count, buf[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(a)
                }
                while true {
                    skipSpace()
                    a.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < buf.count else { throw failure("unexpected end") }
                    if buf[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard buf[i] == UInt8(ascii: "]") else { throw failure("expected ',' or ']'") }
                    i += 1
                    return .array(a)
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default: return try number()
            }
        }

        mutating func number() throws -> JSONValue {
            let start = i
            var integral = true
            if i < buf.count, buf[i] == UInt8(ascii: "-") { i += 1 }
            guard i < buf.count, (0x30...0x39).contains(buf[i]) else { throw failure("expected a value") }
            if buf[i] == 0x30 {
                i += 1
                if i < buf.count, (0x30...0x39).contains(buf[i]) { throw failure("leading zero") }
            } else {
                while i < buf.count, (0x30...0x39).contains(buf[i]) { i += 1 }
            }
            if i < buf.count, buf[i] == UInt8(ascii: ".") {
                integral = false
                i += 1
                guard i < buf.count, (0x30...0x39).contains(buf[i]) else { throw failure("expected a digit") }
                while i < buf.count, (0x30...0x39).contains(buf[i]) { i += 1 }
            }
            if i < buf.count, buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E") {
                integral = false
                i += 1
                if i < buf.count, buf[i] == UInt8(ascii: "+") || buf[i] == UInt8(ascii: "-") { i += 1 }
                guard i < buf.count, (0x30...0x39).contains(buf[i]) else { throw failure("expected a digit") }
                while i < buf.count, (0x30...0x39).contains(buf[i]) { i += 1 }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
            if integral, let n = Int64(text) { return .int(n) }
            guard let d = Double(text), d.isFinite else { throw failure("number out of range") }
            // A number with an exact integer value is an integer, as JSONDecoder reads it.
            if let n = Int64(exactly: d) { return .int(n) }
            return .double(d)
        }

        mutating func hex4() throws -> UInt32 {
            guard buf.count - i >= 4 else { throw failure("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = buf[i]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw failure("bad \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func string() throws -> String {
            i += 1  // the opening quote
            let start = i
            // Fast path: no escapes.
            while i < buf.count {
                let c = buf[i]
                if c == UInt8(ascii: "\"") {
                    let s = String(validating: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
                    i += 1
                    guard let s else { throw failure("invalid UTF-8") }
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw failure("control character in a string") }
                i += 1
            }
            var out = Array(UnsafeBufferPointer(rebasing: buf[start..<i]))
            while i < buf.count {
                let c = buf[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    guard let s = String(validating: out, as: UTF8.self) else { throw failure("invalid UTF-8") }
                    return s
                }
                if c < 0x20 { throw failure("control character in a string") }
                if c != UInt8(ascii: "\\") {
                    out.append(c)
                    i += 1
                    continue
                }
                i += 1
                guard i < buf.count else { throw failure("unexpected end") }
                let e = buf[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard buf.count - i >= 2, buf[i] == UInt8(ascii: "\\"), buf[i + 1] == UInt8(ascii: "u") else {
                            throw failure("unpaired surrogate")
                        }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw failure("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw failure("unpaired surrogate")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw failure("bad \\u escape") }
                    out.append(contentsOf: String(Character(u)).utf8)
                default: throw failure("unknown escape")
                }
            }
            throw failure("unterminated string")
        }
    }
}

extension JSONValue {
    /// This value's JSON text, as `VigilJSON.encode` writes it (sorted keys, slashes unescaped).
    public func jsonBytes() throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try JSONCodec.write(self, into: &out)
        return out
    }

    /// Parses JSON text.
    public init(jsonBytes: [UInt8]) throws { self = try JSONCodec.parse(jsonBytes) }
}
