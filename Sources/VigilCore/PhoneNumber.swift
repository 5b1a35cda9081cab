/// Phone numbers as people type them, read into E.164 (`+` and the country code, 8 to 15 digits), so that a text
/// from `+15551234567` finds the session whose number was typed `555-123-4567`.
public enum PhoneNumber {
    /// A country whose national numbers may be given without `+`: both use the North American numbering plan,
    /// whose numbers are ten digits (or eleven starting with the trunk prefix 1).
    public enum Country: String, Hashable, Sendable, CaseIterable {
        /// The United States.
        case us = "US"
        /// Canada.
        case ca = "CA"
    }

    /// Longer input is not a phone number; bounding it keeps a hostile body cheap.
    static let maxLength = 64

    /// `raw` in E.164, or nil when it cannot be read: only ASCII digits, spaces and `- . ( )` around them, with one
    /// `+` first for an international number. A `+1` number must be one of the North American plan (ten digits
    /// after the 1, the area code not starting with 0 or 1). Without `+`, a number is read in `defaultCountry`
    /// (ten digits, or eleven starting with 1); with no default country it cannot be read.
    public static func e164(_ raw: String, defaultCountry: Country?) -> String? {
        let bytes = Array(raw.utf8)
        guard bytes.count <= maxLength else { return nil }
        var digits: [UInt8] = []
        var plus = false
        for (i, b) in bytes.enumerated() {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(b)
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"): break
            case UInt8(ascii: "+"):
                // Only before every digit and only once: `1+555…` or `++1…` is not a number.
                guard !plus, digits.isEmpty,
                    bytes[..<i].allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "(") })
                else { return nil }
                plus = true
            default: return nil
            }
        }
        let text = String(decoding: digits, as: UTF8.self)
        if plus {
            guard (8...15).contains(digits.count), digits[0] != UInt8(ascii: "0") else { return nil }
            if digits[0] == UInt8(ascii: "1") { return northAmerican(digits.dropFirst()).map { "+1" + $0 } }
            return "+" + text
        }
        guard defaultCountry != nil else { return nil }
        switch digits.count {
        case 10: return northAmerican(digits[...]).map { "+1" + $0 }
        case 11 where digits[0] == UInt8(ascii: "1"): return northAmerican(digits.dropFirst()).map { "+1" + $0 }
        default: return nil
        }
    }

    /// A North American national number: ten digits, the area code starting with 2 to 9.
    static func northAmerican(_ digits: ArraySlice<UInt8>) -> String? {
        guard digits.count == 10, let first = digits.first, first >= UInt8(ascii: "2") else { return nil }
        return String(decoding: digits, as: UTF8.self)
    }

    /// Only the last four digits, for events and logs that must not carry the number: `***4567`.
    public static func masked(_ number: String) -> String {
        let digits = number.utf8.filter { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.suffix(4)
        return "***" + String(decoding: digits, as: UTF8.self)
    }
}
