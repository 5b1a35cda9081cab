import Testing
import VigilCore
import VigilDelivery

@Suite("Standard Webhooks signing")
struct SigningTests {
    @Test("the specification's test vector verifies")
    func specVector() throws {
        let signer = try #require(WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let sig = signer.signature(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test("a changed body, id or timestamp changes the signature")
    func tamperChanges() throws {
        let signer = try #require(WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let base = signer.signature(id: "msg_a", timestamp: 1, body: [1, 2, 3])
        #expect(signer.signature(id: "msg_b", timestamp: 1, body: [1, 2, 3]) != base)
        #expect(signer.signature(id: "msg_a", timestamp: 2, body: [1, 2, 3]) != base)
        #expect(signer.signature(id: "msg_a", timestamp: 1, body: [1, 2, 4]) != base)
    }

    @Test("malformed secrets are refused", arguments: ["", "whsec_", "whsec_!!!!", "whsec_c2hvcnQ="])
    func badSecrets(secret: String) {
        #expect(WebhookSigner(secret: secret) == nil)
    }
}

@Suite("retry and backoff")
struct RetryTests {
    static let settings = RetrySettings(maxAttempts: 3, initialBackoff: .seconds(1), maxBackoff: .seconds(8))

    static func result(_ status: Int, retryAfter: String? = nil, curl: Int = 0) -> HTTPResult {
        HTTPResult(
            status: status, curlCode: curl, error: status == 0 ? "refused" : nil,
            headers: retryAfter.map { ["retry-after": $0] } ?? [:])
    }

    @Test(
        "the answer decides: deliver, retry or give up at once",
        arguments: [
            (200, "delivered"), (204, "delivered"), (0, "retry"), (408, "retry"), (429, "retry"), (500, "retry"),
            (503, "retry"), (301, "give up"), (302, "give up"), (400, "give up"), (401, "give up"), (404, "give up"),
            (410, "give up"), (422, "give up"),
        ])
    func classify(status: Int, expected: String) {
        let v = RetryPlanner.verdict(Self.result(status), attempt: 1, settings: Self.settings, jitter: 0.5)
        switch v {
        case .delivered: #expect(expected == "delivered")
        case .retry: #expect(expected == "retry")
        case .giveUp: #expect(expected == "give up")
        }
    }

    @Test("a retryable answer on the last attempt gives up")
    func lastAttempt() {
        let v = RetryPlanner.verdict(Self.result(500), attempt: 3, settings: Self.settings, jitter: 0.5)
        #expect(v == .giveUp(reason: "HTTP 500 after 3 attempts"))
    }

    @Test("backoff doubles, with jitter between 75 % and 100 %, capped")
    func backoff() {
        for attempt in 1...6 {
            let raw = min(1000 * (1 << (attempt - 1)), 8000)
            let low = RetryPlanner.backoff(attempt: attempt, settings: Self.settings, retryAfter: nil, jitter: 0)
            let high = RetryPlanner.backoff(attempt: attempt, settings: Self.settings, retryAfter: nil, jitter: 1)
            #expect(low.value == Int64(raw * 3 / 4))
            #expect(high.value == Int64(raw))
        }
    }

    @Test("Retry-After is honoured, and capped at max_backoff_s")
    func retryAfter() {
        let a = RetryPlanner.verdict(Self.result(429, retryAfter: "2"), attempt: 1, settings: Self.settings, jitter: 0)
        #expect(a == .retry(after: .seconds(2), reason: "HTTP 429"))
        let b = RetryPlanner.verdict(
            Self.result(503, retryAfter: "3600"), attempt: 1, settings: Self.settings, jitter: 0)
        #expect(b == .retry(after: .seconds(8), reason: "HTTP 503"))
    }
}

@Suite("CAP 1.2 rendering")
struct CAPTests {
    @Test("a dispatch becomes an Actual Alert with the address as areaDesc and the coordinates as a circle")
    func dispatchAlert() throws {
        let envelope: JSONValue = [
            "type": "dispatch.requested", "timestamp": "2026-11-22T10:53:04.120Z",
            "data": [
                "reason": "no check-in for 150 s after it was due",
                "session": [
                    "id": "ses_x", "caller": ["alias": "J <&>"],
                    "location": [
                        "address": "123 Main St", "unit": "4B", "latitude": .double(39.5), "longitude": .double(-89.25),
                    ],
                ],
                "references": ["msg_1"],
            ],
        ]
        let xml = String(
            decoding: try CAPRenderer.render(envelope: VigilJSON.encode(envelope), identifier: "msg_2"), as: UTF8.self)
        #expect(xml.contains("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">"))
        #expect(xml.contains("<identifier>msg_2</identifier>"))
        #expect(xml.contains("<status>Actual</status>"))
        #expect(xml.contains("<msgType>Alert</msgType>"))
        #expect(xml.contains("<category>Health</category>"))
        #expect(xml.contains("<urgency>Immediate</urgency>"))
        #expect(xml.contains("<severity>Extreme</severity>"))
        #expect(xml.contains("<areaDesc>123 Main St, unit 4B</areaDesc>"))
        #expect(!xml.contains("<circle>"), "no circle claims a precision nobody measured")
        #expect(xml.contains("<parameter><valueName>coordinates</valueName><value>39.5,-89.25</value></parameter>"))
        #expect(xml.contains("<sent>2026-11-22T10:53:04-00:00</sent>"))
        #expect(xml.contains("<scope>Restricted</scope>"))
        #expect(xml.contains("J &lt;&amp;&gt;"))
    }

    @Test("dispatch.cancelled becomes msgType Cancel")
    func cancel() throws {
        let envelope: JSONValue = [
            "type": "dispatch.cancelled", "timestamp": "2026-11-22T10:53:04.120Z",
            "data": ["session": ["location": ["address": "1 A St"]]],
        ]
        let xml = String(
            decoding: try CAPRenderer.render(envelope: VigilJSON.encode(envelope), identifier: "msg_3"), as: UTF8.self)
        #expect(xml.contains("<msgType>Cancel</msgType>"))
    }
}
