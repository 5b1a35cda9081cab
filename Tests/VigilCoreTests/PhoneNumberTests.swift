import Testing
import VigilCore

@Suite("phone numbers read into E.164")
struct PhoneNumberTests {
    /// A number as typed, the default country, and what it reads as (nil: it cannot be read).
    struct Case: Sendable, CustomTestStringConvertible {
        let raw: String
        let country: PhoneNumber.Country?
        let e164: String?
        var testDescription: String { "\(raw.debugDescription) in \(country?.rawValue ?? "no country")" }
        init(_ raw: String, _ country: PhoneNumber.Country?, _ e164: String?) {
            self.raw = raw
            self.country = country
            self.e164 = e164
        }
    }

    static let cases: [Case] = [
        // National numbers of the North American plan, with a default country.
        Case("555-123-4567", .us, "+15551234567"),
        Case("(555) 123-4567", .us, "+15551234567"),
        Case("555.123.4567", .ca, "+15551234567"),
        Case("5551234567", .us, "+15551234567"),
        Case("1 555 123 4567", .us, "+15551234567"),
        Case("1-555-123-4567", .ca, "+15551234567"),
        Case("  555 123 4567  ", .us, "+15551234567"),
        // International numbers: + and the country code, with or without a default country.
        Case("+15551234567", nil, "+15551234567"),
        Case("+1 (555) 123-4567", .us, "+15551234567"),
        Case("+44 20 7946 0958", .us, "+442079460958"),
        Case("+33 1 23 45 67 89", nil, "+33123456789"),
        Case("+49 30 12345678", nil, "+493012345678"),
        // Without a default country a national number cannot be read.
        Case("555-123-4567", nil, nil),
        Case("15551234567", nil, nil),
        // Wrong lengths and shapes.
        Case("555-123-456", .us, nil),
        Case("555-123-45678", .us, nil),
        Case("2555-123-4567", .us, nil),
        Case("155-123-4567", .us, nil),
        Case("055-123-4567", .us, nil),
        Case("+1 555 123 456", .us, nil),
        Case("+1 055 123 4567", .us, nil),
        Case("+0 555 123 4567", .us, nil),
        Case("+1234567", nil, nil),
        Case("+1234567890123456", nil, nil),
        Case("020 7946 0958", .us, nil),
        Case("011 44 20 7946 0958", .us, nil),
        Case("", .us, nil),
        Case("   ", .us, nil),
        Case("+", .us, nil),
        Case("()-.", .us, nil),
        // Hostile: letters, a second or misplaced +, other scripts' digits, controls, emoji, combining marks, long.
        Case("1-800-FLOWERS", .us, nil),
        Case("555-123-4567 ext 12", .us, nil),
        Case("++15551234567", nil, nil),
        Case("+1+5551234567", nil, nil),
        Case("1+5551234567", .us, nil),
        Case("555+1234567", .us, nil),
        Case("\u{FF15}\u{FF15}\u{FF15}1234567", .us, nil),
        Case("\u{0665}\u{0665}\u{0665}\u{0661}\u{0662}\u{0663}\u{0664}\u{0665}\u{0666}\u{0667}", .us, nil),
        Case("555\u{0}1234567", .us, nil),
        Case("555\n123\n4567", .us, nil),
        Case("\u{202E}5551234567", .us, nil),
        Case("5\u{0301}551234567", .us, nil),
        Case("555📞1234567", .us, nil),
        Case("+1 555 123 4567;DROP TABLE sessions", nil, nil),
        Case(String(repeating: "5", count: 100_000), .us, nil),
        Case("+" + String(repeating: "1", count: 10_000), nil, nil),
        Case(String(repeating: " ", count: 60) + "5551234567", .us, nil),
    ]

    @Test("a number reads as its E.164 form, or not at all", arguments: cases)
    func reads(c: Case) {
        #expect(PhoneNumber.e164(c.raw, defaultCountry: c.country) == c.e164)
    }

    @Test("what it reads is read again unchanged", arguments: cases.compactMap(\.e164))
    func idempotent(e164: String) {
        #expect(PhoneNumber.e164(e164, defaultCountry: nil) == e164)
        #expect(PhoneNumber.e164(e164, defaultCountry: .us) == e164)
    }

    @Test("a masked number shows only its last four digits")
    func masked() {
        #expect(PhoneNumber.masked("+15551234567") == "***4567")
        #expect(PhoneNumber.masked("+1 (555) 123-4567") == "***4567")
        #expect(PhoneNumber.masked("12") == "***12")
        #expect(PhoneNumber.masked("") == "***")
        #expect(PhoneNumber.masked("\u{FF15}\u{0665}abc") == "***")
    }
}
