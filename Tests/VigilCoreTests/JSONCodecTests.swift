import Foundation
import Testing
import VigilCore

/// The direct JSON writer and parser against Foundation's `JSONEncoder`/`JSONDecoder` through `JSONValue`'s
/// `Codable` conformance: the same bytes out, the same values in, the same inputs refused.
@Suite("JSON codec")
struct JSONCodecTests {
    /// A small deterministic generator, so a failure names a seed that reproduces it.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let alphabet: [Character] = [
        "a", "Z", "0", " ", "/", "\"", "\\", "\n", "\r", "\t", "\u{8}", "\u{C}", "\u{1}", "\u{1F}", "\u{7F}",
        "é", "€", "😀", "\u{2028}", "_", "{", "]", ":",
    ]

    static func string(_ g: inout SplitMix) -> String {
        String((0..<Int.random(in: 0...8, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
    }

    static func value(_ g: inout SplitMix, depth: Int = 0) -> JSONValue {
        switch Int.random(in: 0...(depth > 3 ? 5 : 7), using: &g) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &g))
        case 2:
            return .int(
                [Int64.min, Int64.max, 0, -1, Int64.random(in: -1_000_000...1_000_000, using: &g)].randomElement(
                    using: &g)!)
        case 3:
            let d = [
                0.1, -2.5, 1e21, 1e-7, 123_456_789.125, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                Double.random(in: -1e6...1e6, using: &g),
            ].randomElement(using: &g)!
            return .double(d)
        case 4, 5: return .string(string(&g))
        case 6: return .array((0..<Int.random(in: 0...4, using: &g)).map { _ in value(&g, depth: depth + 1) })
        default:
            var o: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...5, using: &g) { o[string(&g)] = value(&g, depth: depth + 1) }
            return .object(o)
        }
    }

    static func foundationBytes(_ v: JSONValue) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try e.encode(v))
    }

    @Test("writes what JSONEncoder writes, and reads back what JSONDecoder reads, for 3,000 random values")
    func randomValues() throws {
        var g = SplitMix(state: 20_261_202)
        for n in 0..<3000 {
            let v = Self.value(&g)
            let expected = try Self.foundationBytes(v)
            let mine = try VigilJSON.encode(v)
            #expect(mine == expected, "value \(n): \(String(decoding: expected, as: UTF8.self))")
            let back = try VigilJSON.decode(JSONValue.self, from: mine)
            let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(mine))
            #expect(back == foundation, "value \(n)")
        }
    }

    @Test("a webhook envelope is written byte for byte as before")
    func envelope() throws {
        let env = WebhookEnvelope(
            type: .dispatchRequested, timestamp: Timestamp(millis: 1_764_646_000_123),
            data: ["session": ["id": "s_1", "location": ["address": "1 Elm St / Apt 2"]], "sequence": 3])
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(try VigilJSON.encode(env) == Array(try e.encode(env)))
    }

    @Test(
        "hostile and edge inputs: accepted and refused exactly as JSONDecoder does",
        arguments: [
            "1.0", "1e2", "-0", "-0.0", "12345678901234567890", "1.5", "-9223372036854775808", "9223372036854775807",
            "9223372036854775808", "1E400", "-1e400", "01", "-", "1.", ".5", "1e", "+1", #""\ud800""#,
            #""\udc00\ud800""#, #""\ud83d\ude00""#, #"{"a":1,"a":2}"#, " 1 ", "\"\u{1}\"", #""\u00e9\/\b""#,
            #""\x""#, #""abc"#, "[", "{", #"{"a"}"#, #"{"a":}"#, "{1:2}", "tru", "nul", "true false", "[]", "{}",
            " [ { } , [ ] ] ", "\u{FEFF}1", "NaN", "Infinity", "[1]x", "", "   ",
        ])
    func edges(_ text: String) {
        let bytes = Array(text.utf8)
        let mine = try? VigilJSON.decode(JSONValue.self, from: bytes)
        let foundation = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        #expect(
            mine == foundation,
            "\(text.debugDescription): \(String(describing: mine)) vs \(String(describing: foundation))")
    }

    @Test("the one difference: a trailing comma, which RFC 8259 does not allow (JSONDecoder forgives it)")
    func trailingComma() {
        for text in ["[1,]", #"{"a":1,}"#] {
            #expect(throws: VigilError.self) { try VigilJSON.decode(JSONValue.self, from: Array(text.utf8)) }
        }
    }

    @Test("nesting beyond the limit is refused, not a stack overflow")
    func deepNesting() {
        let deep =
            Array(repeating: UInt8(ascii: "["), count: 100_000) + Array(repeating: UInt8(ascii: "]"), count: 100_000)
        #expect(throws: VigilError.self) { try VigilJSON.decode(JSONValue.self, from: deep) }
        let fine = Array(repeating: UInt8(ascii: "["), count: 100) + Array(repeating: UInt8(ascii: "]"), count: 100)
        #expect((try? VigilJSON.decode(JSONValue.self, from: fine)) != nil)
    }

    @Test("a number with no JSON form is refused, as JSONEncoder refuses it")
    func nonFinite() {
        #expect(throws: (any Error).self) { try VigilJSON.encode(JSONValue.double(.nan)) }
        #expect(throws: (any Error).self) { try VigilJSON.encode(JSONValue.array([.double(.infinity)])) }
    }
}
