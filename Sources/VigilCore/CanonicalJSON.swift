/// RFC 8785 (JSON Canonicalization Scheme) over `JSONValue`: no whitespace, object members sorted by their names'
/// UTF-16 code units, strings escaped as ECMAScript's `JSON.stringify` escapes them, and numbers as ECMAScript
/// writes a double. One deliberate difference: an integer (`.int`) is written as it is, every digit, where a
/// JavaScript reader would round one above 2^53; a double is written as the RFC says.
public enum CanonicalJSON {
    /// The canonical text of `value` as UTF-8 bytes; throws for a number that is not finite.
    public static func bytes(_ value: JSONValue) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try write(value, into: &out)
        return out
    }

    /// Appends the canonical text of `value` to `out`.
    public static func write(_ value: JSONValue, into out: inout [UInt8]) throws {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d): out.append(contentsOf: try number(d).utf8)
        case .string(let s): JSONCodec.writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, e) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                try write(e, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            let keys = o.keys.map { (key: $0, units: Array($0.utf16)) }.sorted {
                $0.units.lexicographicallyPrecedes($1.units)
            }
            for (i, k) in keys.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONCodec.writeString(k.key, into: &out)
                out.append(UInt8(ascii: ":"))
                // The key came from the dictionary itself.
                try write(o[k.key] ?? .null, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A double as ECMAScript's `Number.prototype.toString` writes it (RFC 8785, section 3.2.2.3): the shortest
    /// digits that read back as the same double, in plain notation from 1e-6 up to 1e21, else with an exponent.
    public static func number(_ d: Double) throws -> String {
        guard d.isFinite else { throw VigilError.invalid("a number is not finite and has no canonical JSON form") }
        if d == 0 { return "0" }
        let (digits, n) = shortestDigits(abs(d))
        let k = digits.count
        let sign = d < 0 ? "-" : ""
        if k <= n && n <= 21 {
            return sign + digits + String(repeating: "0", count: n - k)
        }
        if 0 < n && n <= 21 {
            let cut = digits.index(digits.startIndex, offsetBy: n)
            return sign + digits[..<cut] + "." + digits[cut...]
        }
        if -6 < n && n <= 0 {
            return sign + "0." + String(repeating: "0", count: -n) + digits
        }
        let e = n - 1
        let exponent = "e" + (e < 0 ? "-" : "+") + String(abs(e))
        if k == 1 { return sign + digits + exponent }
        return sign + String(digits.first!) + "." + digits.dropFirst() + exponent
    }

    /// The shortest decimal digits that round-trip `d` (positive, finite, not zero), without leading or trailing
    /// zeros, and `n` such that `d` = 0.digits × 10^n. Swift's description already gives the shortest round-trip
    /// digits (closest to the value, ties to even); only its layout differs from ECMAScript's.
    static func shortestDigits(_ d: Double) -> (String, Int) {
        let text = d.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var intPart = mantissa
        var fracPart = Substring("")
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = mantissa[..<dot]
            fracPart = mantissa[mantissa.index(after: dot)...]
        }
        var all = Array(intPart + fracPart)
        var point = intPart.count + exponent
        while let first = all.first, first == "0" {
            all.removeFirst()
            point -= 1
        }
        while let last = all.last, last == "0" { all.removeLast() }
        return (String(all), point)
    }
}
