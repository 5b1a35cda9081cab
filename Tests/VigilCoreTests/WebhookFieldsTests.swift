import Testing
import VigilCore

@Suite("what each webhook carries of the session")
struct WebhookFieldsTests {
    static let session: [String: JSONValue] = [
        "id": "ses_1", "state": "escalating", "notes": "uses alone nightly", "substance": "fentanyl",
        "caller": ["alias": "J", "callback_number": "+15551234567"],
        "location": ["address": "123 Main St", "unit": "4B", "access_notes": "side door"],
    ]

    static func body(_ type: EventType) throws -> [UInt8] {
        try VigilJSON.encode(
            WebhookEnvelope(
                type: type, timestamp: Timestamp(millis: 0), data: ["session": .object(session), "reason": "r"]))
    }

    static func sessionOf(_ bytes: [UInt8]) throws -> JSONValue? {
        try VigilJSON.decode(JSONValue.self, from: bytes)["data"]?["session"]
    }

    @Test("a dispatch carries everything a responder needs, never the internal notes")
    func dispatchDefault() throws {
        let s = try Self.sessionOf(
            WebhookFields.project(Self.body(.dispatchRequested), type: .dispatchRequested, fields: nil))
        #expect(s?["notes"] == nil)
        #expect(s?["substance"]?.stringValue == "fentanyl")
        #expect(s?["caller"]?["callback_number"]?.stringValue == "+15551234567")
        #expect(s?["location"]?["access_notes"]?.stringValue == "side door")
        #expect(s?["id"]?.stringValue == "ses_1")
    }

    @Test(
        "every other webhook carries the alias only",
        arguments: [EventType.escalationStep, .escalationResolved, .deliveryFailed])
    func notifyDefault(type: EventType) throws {
        let s = try Self.sessionOf(WebhookFields.project(Self.body(type), type: type, fields: nil))
        #expect(s == ["id": "ses_1", "state": "escalating", "caller": ["alias": "J"]])
    }

    @Test("a configured list is exact, in every message")
    func configured() throws {
        let s = try Self.sessionOf(
            WebhookFields.project(
                Self.body(.dispatchRequested), type: .dispatchRequested, fields: [.accessNotes, .notes]))
        #expect(
            s == [
                "id": "ses_1", "state": "escalating", "notes": "uses alone nightly",
                "location": ["access_notes": "side door"],
            ])
        let all = try WebhookFields.project(
            Self.body(.escalationStep), type: .escalationStep, fields: Set(SessionField.allCases))
        #expect(try Self.sessionOf(all) == .object(Self.session))
    }

    @Test("the projection is the same bytes every time, for the signature and the receiver's de-duplication")
    func stable() throws {
        let a = try WebhookFields.project(Self.body(.dispatchRequested), type: .dispatchRequested, fields: nil)
        let b = try WebhookFields.project(Self.body(.dispatchRequested), type: .dispatchRequested, fields: nil)
        #expect(a == b)
    }

    @Test(
        "text that breaks a receiver is refused at input",
        arguments: ["a\u{FFFE}", "a\u{FFFF}", "a\u{7F}", "a\u{85}", "a\u{202E}b", "a\u{2067}", "a\u{0}", "a\u{1B}"])
    func characterPolicy(text: String) {
        #expect(CharacterPolicy.problem(in: text) != nil)
    }

    @Test("ordinary text in any script passes", arguments: ["José Ñandú", "جون", "李", "line\nbreak\ttab", "🙂"])
    func ordinaryText(text: String) {
        #expect(CharacterPolicy.problem(in: text) == nil)
    }
}
