import Foundation
import Testing
import VigilCore

@testable import VigilDelivery

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A receiver's headers and a session's text are hostile input: nothing they hold may trap or corrupt a body.
@Suite("hostile input at the delivery edge")
struct HostileInputTests {
    static let settings = RetrySettings(maxAttempts: 5, initialBackoff: .seconds(1), maxBackoff: .seconds(30))
    static let now = Timestamp(rfc3339: "2026-12-02T10:00:00.000Z")!

    @Test(
        "absurd Retry-After values neither trap nor stall: capped, or ignored for the target's own backoff",
        arguments: [
            ("1e300", nil), ("-7", nil), ("99999999999999999999999", 30_000), ("NaN", nil), ("inf", nil),
            ("Thu, 01 Jan 3000 00:00:00 GMT", 30_000), ("Wed, 02 Dec 2026 10:00:05 GMT", 5_000),
            ("Tue, 01 Dec 2026 10:00:00 GMT", 0), ("", nil), ("   12  ", 12_000), ("0x10", nil), ("1.5", nil),
            ("Thu, 99 Jan 3000 00:00:00 GMT", nil), ("\u{0}", nil),
        ] as [(String, Int64?)])
    func retryAfter(header: String, expected: Int64?) {
        let result = HTTPResult(status: 503, curlCode: 0, headers: ["retry-after": header])
        let v = RetryPlanner.verdict(result, attempt: 1, settings: Self.settings, jitter: 1, now: Self.now)
        // Without a usable Retry-After the first backoff is the target's own: 1 s at jitter 1.
        #expect(v == .retry(after: Millis(expected ?? 1000), reason: "HTTP 503"))
    }

    @Test("decimal seconds saturate instead of trapping", arguments: [1e300, -1e300, .infinity, -.infinity, .nan])
    func decimalSeconds(value: Double) {
        let m = Millis.seconds(decimal: value)
        #expect(abs(m.value) <= Millis.longest.value)
        // Adding the longest duration to any instant a session can hold does not overflow either.
        _ = Timestamp(millis: 0) + m + m
    }

    @Test("instants and durations saturate at Int64's range")
    func saturating() {
        #expect((Timestamp(millis: .max) + .seconds(1)).millis == .max)
        #expect((Timestamp(millis: .min) - .seconds(1)).millis == .min)
        #expect(Millis.seconds(.max).value == .max)
        #expect((Timestamp(millis: .max) - Timestamp(millis: .min)).value == .max)
        // A saturated instant still prints (this trapped on `millis - 999` at the bottom of the range).
        #expect(!Timestamp(millis: .min).rfc3339.isEmpty && !Timestamp(millis: .max).rfc3339.isEmpty)
        #expect(Timestamp(millis: -1).rfc3339 == "1969-12-31T23:59:59.999Z")
    }

    @Test(
        "only loopback hosts count as local",
        arguments: [
            ("http://127.0.0.1:9/x", true), ("http://localhost/x", true), ("http://[::1]:80/", true),
            ("http://127.9.9.9/", true), ("http://127.0.0.1.evil.example/", false), ("http://10.0.0.1/", false),
            ("http://user@127.0.0.1@evil.example/", false), ("https://example.org/", false),
            ("http://localhost.example/", false), ("http://1270.0.0.1/", false),
        ])
    func loopback(url: String, expected: Bool) {
        #expect(TargetURL.isLoopback(url) == expected)
    }

    @Test("a CAP body stays well-formed XML whatever text the session holds")
    func capWellFormed() throws {
        let nasty = "A\u{FFFE}B\u{FFFF}C\u{7F}D\u{85}E\u{202E}F\u{2066}G\u{1}H<&>"
        let envelope: JSONValue = [
            "type": "dispatch.requested", "timestamp": "2026-11-22T10:53:04.120Z",
            "data": [
                "reason": .string(nasty),
                "session": [
                    "id": "ses_x", "caller": ["alias": .string(nasty)],
                    "location": ["address": .string(nasty), "access_notes": .string(nasty)],
                ],
            ],
        ]
        let xml = try CAPRenderer.render(envelope: VigilJSON.encode(envelope), identifier: "msg_1")
        let text = String(decoding: xml, as: UTF8.self)
        for bad in ["\u{FFFE}", "\u{FFFF}", "\u{202E}", "\u{2066}", "\u{1}"] { #expect(!text.contains(bad)) }
        #expect(text.contains("&lt;&amp;&gt;"))
        let parser = XMLParser(data: Data(xml))
        #expect(parser.parse(), "well-formed: \(String(describing: parser.parserError))")
    }

    @Test("a stored envelope with a part that cannot be read renders from the rest, in CAP and in EIDO")
    func partialEnvelope() throws {
        let envelope: JSONValue = [
            "type": "dispatch.requested", "timestamp": "2026-11-22T10:53:04.120Z",
            "data": [
                "reason": "no check-in",
                // Facts that are not facts: no brief, so the plain alert, with everything else still in it.
                "dispatch_facts": ["incident": 7],
                "references": "not a list",
                "session": [
                    "id": "ses_x", "caller": ["alias": "Sam", "callback_number": 5],
                    "location": ["access_notes": "side door", "latitude": 40, "longitude": "west"],
                ],
            ],
        ]
        let read = try #require(StoredEnvelope.read(envelope))
        #expect(read.data?.dispatchFacts == nil && read.data?.references == nil)
        #expect(read.data?.session?.caller?.alias == "Sam")
        #expect(read.data?.session?.caller?.callbackNumber == nil, "a number where text belongs is not read")
        #expect(read.data?.session?.location?.location == nil, "no address, no whole location")
        #expect(read.data?.session?.location?.accessNotes == "side door")
        let xml = String(decoding: try CAPRenderer.render(envelope: envelope, identifier: "msg_9"), as: UTF8.self)
        #expect(xml.contains("<instruction>Access: side door</instruction>"))
        #expect(xml.contains("<description>no check-in. Caller: Sam</description>"))
        #expect(xml.contains("<value>ses_x</value>"))
        #expect(!xml.contains("coordinates"), "half a coordinate pair is none")
        #expect(XMLParser(data: Data(xml.utf8)).parse())
        let eido = try VigilJSON.decode(JSONValue.self, from: EIDORenderer.render(envelope: envelope))
        #expect(eido["eidoVersion"] == "1.0")
        #expect(StoredEnvelope.read("text") == nil)
        #expect(StoredEnvelope.read([:])?.type == "unknown")
    }
}
