import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VigilCore
import VigilHTTP

@Suite("phone numbers at intake, in process")
struct PhoneIntakeTests {
    static func start(caller number: String, responders: String = "") -> ByteBuffer {
        ByteBuffer(
            string: #"{"location":{"address":"123 Main St"},"check_in_interval_s":120,"caller":{"alias":"J","#
                + #""callback_number":"\#(number)"}\#(responders)}"#)
    }

    @Test("with default_country US, numbers typed without a country code are stored in E.164")
    func storedInE164() async throws {
        let h = APIHarness(defaultCountry: .us)
        try await h.app.test(.router) { client in
            let id = try await client.execute(
                uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: Self.start(
                    caller: "555-123-4567",
                    responders: #","responders":[{"name":"Sam","phone":"(555) 765-4321"}]"#)
            ) { r in
                #expect(r.status == .created)
                return try #require(jsonBody(r)?["id"]?.stringValue)
            }
            let s = try #require(await h.engine.session(SessionID(rawValue: id)))
            #expect(s.caller.callbackNumber == "+15551234567")
            #expect(s.responders?.map(\.phone) == ["+15557654321"])
            try await client.execute(
                uri: "/v1/sessions/\(id)", method: .patch, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: #"{"caller":{"alias":"J","callback_number":"1 (555) 222-3333"}}"#)
            ) { r in #expect(r.status == .ok) }
            #expect(try await h.engine.session(SessionID(rawValue: id))?.caller.callbackNumber == "+15552223333")
        }
    }

    @Test(
        "a number that cannot be read is a 400 naming caller.callback_number, and nothing starts",
        arguments: [
            (nil, "555-123-4567"), (.us, "555-123-456"), (.us, "1-800-FLOWERS"), (.ca, "+1 555 123 456"),
            (.us, "\u{FF15}\u{FF15}\u{FF15}1234567"), (.us, "++15551234567"), (nil, "020 7946 0958"),
        ] as [(PhoneNumber.Country?, String)])
    func unreadable(country: PhoneNumber.Country?, number: String) async throws {
        let h = APIHarness(defaultCountry: country)
        try await h.app.test(.router) { client in
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: Self.start(caller: number)
            ) { r in
                #expect(r.status == .badRequest)
                #expect(errorCode(r) == "invalid_request")
                let message = jsonBody(r)?["error"]?["message"]?.stringValue ?? ""
                #expect(message.hasPrefix("caller.callback_number "), "\(message)")
            }
            #expect(await h.engine.openSessions().isEmpty)
        }
    }

    @Test("a PATCH with a number that cannot be read is a 400 and changes nothing")
    func unreadablePatch() async throws {
        let h = APIHarness(defaultCountry: .us)
        try await h.app.test(.router) { client in
            let id = try await client.execute(
                uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: Self.start(caller: "+15551234567")
            ) { r in try #require(jsonBody(r)?["id"]?.stringValue) }
            let before = try #require(await h.engine.session(SessionID(rawValue: id)))
            try await client.execute(
                uri: "/v1/sessions/\(id)", method: .patch, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: #"{"caller":{"callback_number":"555-0100"}}"#)
            ) { r in
                #expect(r.status == .badRequest)
                let message = jsonBody(r)?["error"]?["message"]?.stringValue ?? ""
                #expect(message.hasPrefix("caller.callback_number "), "\(message)")
            }
            #expect(try await h.engine.session(SessionID(rawValue: id)) == before)
        }
    }
}
