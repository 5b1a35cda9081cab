import Testing
import VigilCore

@Suite("timestamps")
struct TimestampTests {
    @Test(
        "RFC 3339 with milliseconds, in UTC",
        arguments: [
            (Int64(0), "1970-01-01T00:00:00.000Z"), (1_795_344_784_120, "2026-11-22T10:53:04.120Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"), (-1, "1969-12-31T23:59:59.999Z"),
        ])
    func formats(millis: Int64, text: String) {
        #expect(Timestamp(millis: millis).rfc3339 == text)
        #expect(Timestamp(rfc3339: text) == Timestamp(millis: millis))
    }

    @Test("offsets and short fractions parse; garbage does not")
    func parses() {
        #expect(Timestamp(rfc3339: "2026-11-22T11:53:04.12+01:00")?.rfc3339 == "2026-11-22T10:53:04.120Z")
        #expect(Timestamp(rfc3339: "2026-11-22T10:53:04Z")?.rfc3339 == "2026-11-22T10:53:04.000Z")
        // Long fractions (found by the fuzzer: four or more digits trapped).
        #expect(Timestamp(rfc3339: "2026-11-22T10:53:04.1205830Z")?.rfc3339 == "2026-11-22T10:53:04.120Z")
        #expect(Timestamp(rfc3339: "2026-11-22T10:53:04.1205830") == nil)
        for bad in ["", "2026-13-01T00:00:00Z", "2026-11-22", "2026-11-22T10:53:04", "2026-11-22T10:53:04.Z"] {
            #expect(Timestamp(rfc3339: bad) == nil, "\(bad)")
        }
    }

    @Test("session ids are validated by shape")
    func sessionIDs() {
        #expect(SessionID(validating: "ses_abc123") != nil)
        for bad in ["ses_", "../etc", "ses_ABC", "ses_a/b", "x_abc", String(repeating: "a", count: 80)] {
            #expect(SessionID(validating: bad) == nil, "\(bad)")
        }
    }
}
