import Foundation
import Testing
import VigilCore

/// RFC 8785's own examples and Appendix B's numbers, through `CanonicalJSON`.
@Suite("RFC 8785 canonical JSON")
struct CanonicalJSONTests {
    static func text(_ v: JSONValue) throws -> String { String(decoding: try CanonicalJSON.bytes(v), as: UTF8.self) }

    /// Appendix B: an IEEE 754 double (its bits in hex) and its canonical text.
    static let appendixB: [(String, String)] = [
        ("0000000000000000", "0"), ("8000000000000000", "0"), ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"), ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"), ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"), ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"), ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"), ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"), ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"), ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"), ("41b3de4355555554", "333333333.33333325"),
        ("41b3de4355555555", "333333333.3333333"), ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"), ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ]

    @Test("Appendix B: every double is written as ECMAScript writes it", arguments: appendixB)
    func numbers(bits: String, expected: String) throws {
        let d = Double(bitPattern: try #require(UInt64(bits, radix: 16)))
        #expect(try CanonicalJSON.number(d) == expected)
        #expect(try Self.text(.double(d)) == expected)
    }

    @Test("Appendix B: NaN and Infinity have no canonical form", arguments: ["7fffffffffffffff", "7ff0000000000000"])
    func notFinite(bits: String) throws {
        let d = Double(bitPattern: try #require(UInt64(bits, radix: 16)))
        #expect(throws: VigilError.self) { try CanonicalJSON.number(d) }
    }

    @Test("section 3.2.2: the example's literals, numbers and string")
    func primitives() throws {
        let input = #"""
            {
              "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """#
        let v = try JSONValue(jsonBytes: Array(input.utf8))
        #expect(
            try Self.text(v)
                == #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        )
    }

    @Test("section 3.2.3: members are sorted by their names' UTF-16 code units")
    func sorting() throws {
        let input = #"""
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """#
        let v = try JSONValue(jsonBytes: Array(input.utf8))
        let expected =
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"\u{F6}\":\"Latin Small Letter O With "
            + "Diaeresis\",\"\u{20AC}\":\"Euro Sign\",\"\u{1F600}\":\"Emoji: Grinning Face\",\"\u{FB33}\":\"Hebrew "
            + "Letter Dalet With Dagesh\"}"
        let bytes = try CanonicalJSON.bytes(v)
        #expect(bytes == Array(expected.utf8))
    }

    @Test("integers are written as they are, every digit")
    func integers() throws {
        #expect(try Self.text(.int(Int64.max)) == "9223372036854775807")
        #expect(try Self.text(.int(-42)) == "-42")
        #expect(try Self.text(["b": 1, "a": [1, .double(2.5), "x"]]) == #"{"a":[1,2.5,"x"],"b":1}"#)
    }

    @Test("SHA-256 through swift-crypto keeps the FIPS 180-4 answers")
    func sha256() {
        #expect(SHA256Digest.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Digest.hex(bytes: SHA256Digest.hash([])) == SHA256Digest.hex(""))
        #expect(SHA256Digest.bytes(hex: "00ff10") == [0, 255, 16])
        #expect(SHA256Digest.bytes(hex: "0g") == nil)
    }
}
