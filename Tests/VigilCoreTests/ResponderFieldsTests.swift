import Testing
import VigilCore
import VigilTestKit

/// A target's `fields:` on the messages to a responder gateway: every part of the body, the text included.
@Suite("what a responder gateway receives, by its fields")
struct ResponderFieldsTests {
    /// The first `responder.requested` of a session with one responder, as stored in the outbox.
    static func storedRequest(template: String? = nil) async throws -> [UInt8] {
        var policy = ResponderTests.policy()
        policy.responderMessage = template
        let h = Harness(policy: policy)
        _ = try await h.start(ResponderTests.request(1))
        try await h.advance(by: .seconds(3))
        return try #require(h.store.notifications.first { $0.type == .responderRequested }).body
    }

    static func sent(_ body: [UInt8], fields: Set<SessionField>?) throws -> JSONValue? {
        try VigilJSON.decode(
            JSONValue.self, from: WebhookFields.project(body, type: .responderRequested, fields: fields))["data"]
    }

    @Test("by default the request carries the alias, the location and the access notes; its text no access notes")
    func defaults() async throws {
        #expect(WebhookFields.effective(.responderRequested, configured: nil) == [.alias, .location, .accessNotes])
        let data = try Self.sent(try await Self.storedRequest(), fields: nil)
        #expect(data?["session"]?["caller"] == ["alias": "J"])
        #expect(data?["location"]?["address"]?.stringValue == "123 Main St")
        #expect(data?["location"]?["access_notes"]?.stringValue == "side door", "for the responder's page")
        let message = data?["message"]?.stringValue ?? ""
        #expect(message.contains("J asked us") && message.contains("123 Main St, unit 4B"))
        #expect(!message.contains("side door"), "a text may show on a locked screen")
        #expect(data?["message_template"] == nil, "the stored template never leaves")
    }

    @Test("fields without the location: no location in the body and no address in the text")
    func noLocation() async throws {
        let data = try Self.sent(try await Self.storedRequest(), fields: [.alias])
        #expect(data?["location"] == nil)
        let message = data?["message"]?.stringValue ?? ""
        #expect(!message.contains("Main St") && !message.contains("4B"), "\(message)")
        #expect(message.contains(ResponderMessage.addressOnPage))
        #expect(message.contains("J asked us"))
        #expect(message.contains(data?["responder_url"]?.stringValue ?? "no link"))
    }

    @Test("fields without the alias or the access notes: neither in any part, the text says Someone")
    func noAlias() async throws {
        let data = try Self.sent(try await Self.storedRequest(), fields: [.location])
        #expect(data?["session"]?["caller"] == nil)
        #expect(data?["location"]?["access_notes"] == nil)
        #expect(data?["location"]?["address"]?.stringValue == "123 Main St")
        let message = data?["message"]?.stringValue ?? ""
        #expect(message.hasPrefix("Hi R1, Someone asked us"), "\(message)")
        #expect(message.contains("123 Main St, unit 4B"))
    }

    @Test("a policy's own template is kept, and still trimmed by the fields")
    func customTemplate() async throws {
        let body = try await Self.storedRequest(template: "{name}: check on {alias} at {address}. {link}")
        let all = try Self.sent(body, fields: Set(SessionField.allCases))
        let message = all?["message"]?.stringValue ?? ""
        #expect(message.hasPrefix("R1: check on J at 123 Main St, unit 4B. https://"), "\(message)")
        #expect(!message.contains("side door"), "no placeholder reaches the access notes")
        #expect(all?["message_template"] == nil)
        let trimmed = try Self.sent(body, fields: [])
        #expect(trimmed?["message"]?.stringValue?.hasPrefix("R1: check on Someone at the address on the page") == true)
        #expect(trimmed?["location"] == nil && trimmed?["session"]?["caller"] == nil)
    }

    @Test("the same bytes on every attempt")
    func stable() async throws {
        let body = try await Self.storedRequest()
        #expect(
            try WebhookFields.project(body, type: .responderRequested, fields: [.alias])
                == WebhookFields.project(body, type: .responderRequested, fields: [.alias]))
    }
}
