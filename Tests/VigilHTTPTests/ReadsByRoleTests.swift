import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VigilCore
import VigilHTTP

/// What each role reads over the API: the person's link only where it is given out, personal data only where needed.
@Suite("reads by role, in process")
struct ReadsByRoleTests {
    static let readers: [Role] = [.viewer, .operator, .supervisor, .admin]
    static let personal = ["123 Main St", "4B", "+15551234567", "side door", "has naloxone", "fentanyl", "Alex"]

    static let startBody =
        #"{"location":{"address":"123 Main St","unit":"4B","city":"Springfield","region":"IL","country":"US","#
        + #""access_notes":"side door"},"check_in_interval_s":60,"grace_s":0,"notes":"has naloxone","#
        + #""substance":"fentanyl","caller":{"alias":"J","callback_number":"+15551234567"},"#
        + #""responders":[{"name":"Alex","phone":"+15550000000"}]}"#

    /// Starts a session over the API; the answer must carry the link (the one read that does).
    func start(_ client: some TestClientProtocol) async throws -> String {
        try await client.execute(
            uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
            body: ByteBuffer(string: Self.startBody)
        ) { r in
            #expect(r.status == .created)
            let s = try #require(jsonBody(r))
            #expect(s["check_in_url"]?.stringValue?.hasPrefix("https://vigil.example/c/") == true)
            #expect(s["location"]?["address"]?.stringValue == "123 Main St", "the operator sees what they typed")
            return try #require(s["id"]?.stringValue)
        }
    }

    func get(_ client: some TestClientProtocol, _ uri: String, as role: Role) async throws -> (Int, String) {
        try await client.execute(uri: uri, method: .get, headers: APIHarness.bearer(APIHarness.token(role))) { r in
            (Int(r.status.code), String(buffer: r.body))
        }
    }

    @Test("no read carries the check-in link: not the list, not one session, not its timeline", arguments: readers)
    func noLinkInReads(role: Role) async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            for uri in [
                "/v1/sessions", "/v1/sessions?state=all", "/v1/sessions?state=active", "/v1/sessions/\(id)",
                "/v1/sessions/\(id)/timeline", "/v1/sessions/\(id)/timeline?format=csv",
            ] {
                let (status, text) = try await get(client, uri, as: role)
                #expect(status == 200, "\(uri)")
                #expect(!text.contains("check_in_url") && !text.contains("/c/"), "\(role) \(uri)")
            }
        }
    }

    @Test("a viewer reads no personal data of a session in alarm: list, one session, timeline, export")
    func viewerReadsNothingPersonal() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            for t in h.time.advance(by: .seconds(61)) { try await h.engine.fire(t) }
            try await client.execute(
                uri: "/v1/sessions/\(id)/acknowledge", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: #"{"note":"side door is open, 4B"}"#)
            ) { r in #expect(r.status == .ok) }
            for uri in [
                "/v1/sessions", "/v1/sessions/\(id)", "/v1/sessions/\(id)/timeline",
                "/v1/sessions/\(id)/timeline?format=csv", "/v1/history",
            ] {
                let (status, text) = try await get(client, uri, as: .viewer)
                #expect(status == 200, "\(uri)")
                for p in Self.personal { #expect(!text.contains(p), "a viewer read \(p) in \(uri)") }
            }
            let (_, one) = try await get(client, "/v1/sessions/\(id)", as: .viewer)
            let s = try VigilJSON.decode(JSONValue.self, from: Array(one.utf8))
            #expect(s["location"] == ["city": "Springfield", "region": "IL", "country": "US", "redacted": true])
            #expect(s["caller"] == ["alias": "J"])
            let ack = s["events"]?.arrayItems.first { $0["type"]?.stringValue == "escalation.acknowledged" }
            #expect(ack?["data"]?["redacted"] == true)
        }
    }

    @Test("staff read the location and number of a session in alarm, not of an active one")
    func staffReadsByState() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            let (_, active) = try await get(client, "/v1/sessions/\(id)", as: .operator)
            for p in Self.personal { #expect(!active.contains(p), "an active session's read carries \(p)") }
            for t in h.time.advance(by: .seconds(61)) { try await h.engine.fire(t) }
            let (_, alarm) = try await get(client, "/v1/sessions/\(id)", as: .supervisor)
            for p in Self.personal { #expect(alarm.contains(p), "a session in alarm's read lacks \(p)") }
            #expect(!alarm.contains("check_in_url"))
        }
    }

    @Test("the check-in link is answered and recorded on every call; an Idempotency-Key never replays it")
    func checkInLinkIsRecorded() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            for _ in 0..<2 {
                var headers = APIHarness.bearer(APIHarness.op)
                headers[.init("Idempotency-Key")!] = "same-key"
                try await client.execute(uri: "/v1/sessions/\(id)/check-in-link", method: .post, headers: headers) {
                    r in
                    #expect(r.status == .ok)
                    #expect(jsonBody(r)?["check_in_url"]?.stringValue?.hasPrefix("https://vigil.example/c/") == true)
                }
            }
        }
        let viewed = h.store.allEvents.filter { $0.type == .linkViewed }
        #expect(viewed.count == 2)
        #expect(viewed.first?.data["by"]?.stringValue == "console")
        #expect(viewed.first?.data["role"]?.stringValue == "operator")
        let text = String(decoding: try VigilJSON.encode(viewed), as: UTF8.self)
        #expect(!text.contains("/c/"), "the event records who asked, never the link")
    }

    @Test("no one but staff may ask for the check-in link", arguments: [Role.viewer, .device, .metrics, .dispatch])
    func checkInLinkIsForStaff(role: Role) async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            try await client.execute(
                uri: "/v1/sessions/\(id)/check-in-link", method: .post,
                headers: APIHarness.bearer(APIHarness.token(role))
            ) { r in
                #expect(r.status == .forbidden)
                #expect(!String(buffer: r.body).contains("/c/"))
            }
        }
        #expect(h.store.allEvents.filter { $0.type == .linkViewed }.isEmpty)
    }

    @Test("an ended session's link is not given out")
    func endedLink() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            try await client.execute(
                uri: "/v1/sessions/\(id)/end", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: #"{"outcome":"safe"}"#)
            ) { r in #expect(r.status == .ok) }
            try await client.execute(
                uri: "/v1/sessions/\(id)/check-in-link", method: .post, headers: APIHarness.bearer(APIHarness.op)
            ) { r in #expect(r.status == .conflict) }
        }
        #expect(h.store.allEvents.filter { $0.type == .linkViewed }.isEmpty)
    }

    @Test("a reveal answers the whole session without the link, recorded on every call despite an Idempotency-Key")
    func revealAnswersTheSession() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            for _ in 0..<2 {
                var headers = APIHarness.bearer(APIHarness.op)
                headers[.init("Idempotency-Key")!] = "same-key"
                try await client.execute(uri: "/v1/sessions/\(id)/location/reveal", method: .post, headers: headers) {
                    r in
                    #expect(r.status == .ok)
                    let text = String(buffer: r.body)
                    for p in Self.personal { #expect(text.contains(p), "a reveal lacks \(p)") }
                    #expect(jsonBody(r)?["id"]?.stringValue == id)
                    #expect(jsonBody(r)?["state"]?.stringValue == "active")
                    #expect(!text.contains("check_in_url"))
                }
            }
        }
        #expect(h.store.allEvents.filter { $0.type == .locationViewed }.count == 2)
    }

    @Test("an open follow-up carries the callback number to staff, never to a viewer")
    func followUpNumber() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            try await client.execute(
                uri: "/v1/sessions/\(id)/end", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: #"{"outcome":"ems_attended"}"#)
            ) { r in #expect(r.status == .ok) }
            let (_, staff) = try await get(client, "/v1/follow-ups?state=open", as: .operator)
            let list = try VigilJSON.decode(JSONValue.self, from: Array(staff.utf8))["follow_ups"]?.arrayItems ?? []
            #expect(list.first?["callback_number"]?.stringValue == "+15551234567")
            let (_, viewer) = try await get(client, "/v1/follow-ups?state=open", as: .viewer)
            #expect(!viewer.contains("+15551234567"))
            #expect(viewer.contains("fu_"))
        }
    }
}

extension JSONValue {
    /// The items of an array; none for anything else.
    fileprivate var arrayItems: [JSONValue] {
        if case .array(let a) = self { return a }
        return []
    }
}
