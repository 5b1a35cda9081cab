import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VigilCore
import VigilHTTP

/// The shift console's routes: the recorded location reveal, who is connected, history, export and figures.
@Suite("the console's shift routes, in process")
struct ConsoleAPITests {
    func start(_ client: some TestClientProtocol) async throws -> String {
        try await client.execute(
            uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
            body: ByteBuffer(
                string:
                    #"{"location":{"address":"123 Main St","unit":"4B","access_notes":"side door"},"check_in_interval_s":120,"caller":{"alias":"J","callback_number":"+15551234567"}}"#
            )
        ) { r in try #require(jsonBody(r)?["id"]?.stringValue) }
    }

    @Test("a reveal answers the location and records location.viewed with who looked")
    func revealIsRecorded() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            try await client.execute(
                uri: "/v1/sessions/\(id)/location/reveal", method: .post, headers: APIHarness.bearer(APIHarness.op)
            ) { r in
                #expect(r.status == .ok)
                let body = try #require(jsonBody(r))
                #expect(body["location"]?["address"]?.stringValue == "123 Main St")
                #expect(body["location"]?["access_notes"]?.stringValue == "side door")
                #expect(body["caller"]?["callback_number"]?.stringValue == "+15551234567")
            }
        }
        let viewed = h.store.allEvents.filter { $0.type == .locationViewed }
        #expect(viewed.count == 1)
        #expect(viewed.first?.data["by"]?.stringValue == "console")
        #expect(viewed.first?.data["role"]?.stringValue == "operator")
        #expect(viewed.first?.data["state"]?.stringValue == "active")
        let text = String(decoding: try VigilJSON.encode(viewed), as: UTF8.self)
        #expect(!text.contains("123 Main St"), "the event records who looked, never what they saw")
    }

    @Test(
        "a viewer, a device and a metrics token may not reveal a location", arguments: [Role.viewer, .device, .metrics])
    func revealIsForStaff(role: Role) async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            try await client.execute(
                uri: "/v1/sessions/\(id)/location/reveal", method: .post,
                headers: APIHarness.bearer(APIHarness.token(role))
            ) { r in
                #expect(r.status == .forbidden)
                #expect(errorCode(r) == "forbidden")
            }
        }
        #expect(h.store.allEvents.filter { $0.type == .locationViewed }.isEmpty)
    }

    @Test("a reveal of an unknown session is a 404 and a body with fields is a 400")
    func revealBadInput() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            try await client.execute(
                uri: "/v1/sessions/ses_nope/location/reveal", method: .post, headers: APIHarness.bearer(APIHarness.op)
            ) { r in #expect(r.status == .notFound) }
            try await client.execute(
                uri: "/v1/sessions/\(id)/location/reveal", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: #"{"operator":"someone else"}"#)
            ) { r in #expect(r.status == .badRequest) }
        }
        #expect(h.store.allEvents.filter { $0.type == .locationViewed }.isEmpty)
    }

    @Test("history pages ended sessions with outcome and who acted; bad paging is a 400")
    func history() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            for _ in 0..<3 {
                let id = try await start(client)
                try await client.execute(
                    uri: "/v1/sessions/\(id)/end", method: .post, headers: APIHarness.bearer(APIHarness.op),
                    body: ByteBuffer(string: #"{"outcome":"false_alarm"}"#)
                ) { r in #expect(r.status == .ok) }
            }
            _ = try await start(client)
            try await client.execute(
                uri: "/v1/history?limit=2", method: .get, headers: APIHarness.bearer(APIHarness.token(.viewer))
            ) { r in
                #expect(r.status == .ok)
                let body = try #require(jsonBody(r))
                guard case .array(let rows) = body["sessions"] else { Issue.record("no rows"); return }
                #expect(rows.count == 2)
                #expect(body["more"] == .bool(true))
                #expect(rows.allSatisfy { $0["outcome"]?.stringValue == "false_alarm" })
                #expect(rows.allSatisfy { $0["ended_by"]?.stringValue == "console" })
                #expect(rows.allSatisfy { $0["acted_by"] == .strings(["console"]) })
            }
            try await client.execute(
                uri: "/v1/history?limit=2&offset=2", method: .get, headers: APIHarness.bearer(APIHarness.op)
            ) { r in
                guard case .array(let rows) = jsonBody(r)?["sessions"] else { Issue.record("no rows"); return }
                #expect(rows.count == 1)
                #expect(jsonBody(r)?["more"] == .bool(false))
            }
            for bad in ["limit=0", "limit=x", "offset=-1", "limit=99999999999999999999"] {
                try await client.execute(
                    uri: "/v1/history?\(bad)", method: .get, headers: APIHarness.bearer(APIHarness.op)
                ) { r in #expect(r.status == .badRequest, "\(bad)") }
            }
        }
    }

    @Test("a timeline exports as CSV with formula-safe cells, and as JSON")
    func export() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await start(client)
            try await client.execute(
                uri: "/v1/sessions/\(id)/check-ins", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: #"{"note":"=HYPERLINK(\"x\")"}"#)
            ) { r in #expect(r.status == .ok) }
            try await client.execute(
                uri: "/v1/sessions/\(id)/timeline?format=csv", method: .get, headers: APIHarness.bearer(APIHarness.op)
            ) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/csv") == true)
                #expect(r.headers[.contentDisposition]?.contains("attachment") == true)
                let text = String(decoding: r.body.readableBytesView, as: UTF8.self)
                let lines = text.split(separator: "\r\n")
                #expect(lines.first == "seq,at,type,by,role,source,details")
                #expect(lines.count == 3)
                #expect(lines[1].contains("\"session.started\""))
                #expect(lines[2].contains("\"check_in.received\",\"console\",\"operator\",\"operator\""))
                #expect(!text.contains(",\"="), "a formula never starts a cell")
            }
            try await client.execute(
                uri: "/v1/sessions/\(id)/timeline?format=json", method: .get, headers: APIHarness.bearer(APIHarness.op)
            ) { r in
                guard case .array(let events) = jsonBody(r)?["events"] else { Issue.record("no events"); return }
                #expect(events.map { $0["type"]?.stringValue } == ["session.started", "check_in.received"])
            }
            try await client.execute(
                uri: "/v1/sessions/\(id)/timeline?format=xml", method: .get, headers: APIHarness.bearer(APIHarness.op)
            ) { r in #expect(r.status == .badRequest) }
        }
    }

    @Test("the figures count the sessions of the current hour; hours out of range are a 400")
    func stats() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            _ = try await start(client)
            _ = try await start(client)
            try await client.execute(
                uri: "/v1/stats?hours=24", method: .get, headers: APIHarness.bearer(APIHarness.token(.viewer))
            ) { r in
                #expect(r.status == .ok)
                guard case .array(let hours) = jsonBody(r)?["hours"] else { Issue.record("no hours"); return }
                #expect(hours.count == 24)
                #expect(hours.last?["sessions"]?.intValue == 2)
            }
            for bad in ["hours=0", "hours=169", "hours=a"] {
                try await client.execute(
                    uri: "/v1/stats?\(bad)", method: .get, headers: APIHarness.bearer(APIHarness.op)
                ) { r in #expect(r.status == .badRequest, "\(bad)") }
            }
        }
    }

    @Test("connected operators: nobody before a stream opens, and the caller's own name")
    func connected() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            try await client.execute(
                uri: "/v1/operators/connected", method: .get, headers: APIHarness.bearer(APIHarness.op)
            ) { r in
                #expect(r.status == .ok)
                #expect(jsonBody(r)?["operators"] == .array([]))
                #expect(jsonBody(r)?["you"]?["name"]?.stringValue == "console")
            }
            try await client.execute(
                uri: "/v1/operators/connected", method: .get, headers: APIHarness.bearer(APIHarness.token(.device))
            ) { r in #expect(r.status == .forbidden) }
        }
    }
}

@Suite("the timeline's CSV")
struct TimelineCSVTests {
    @Test("a cell a spreadsheet would run as a formula is prefixed, and quotes are doubled")
    func formulaSafe() {
        let e = StoredEvent(
            seq: 7, sessionID: nil, type: .checkInReceived, at: Timestamp(seconds: 1_795_341_600),
            data: ["by": "=SUM(A1)", "role": "@x", "source": "+1\"2"])
        let line = TimelineCSV.render([e]).split(separator: "\r\n")[1]
        #expect(line == #""7","2026-11-22T10:00:00.000Z","check_in.received","'=SUM(A1)","'@x","'+1""2","""#)
    }
}

@Suite("who has a stream open")
struct EventHubOwnersTests {
    @Test("owners lists each token's streams and its oldest connection time")
    func owners() {
        let hub = EventHub()
        let t = Timestamp(seconds: 1_795_341_600)
        let a = hub.subscribe(owner: "ana", at: t)
        let b = hub.subscribe(owner: "ana", at: t + .seconds(5))
        let c = hub.subscribe(owner: "bo", at: t + .seconds(9))
        let list = hub.owners()
        #expect(list.map(\.owner) == ["ana", "bo"])
        #expect(list.map(\.streams) == [2, 1])
        #expect(list.map(\.since) == [t, t + .seconds(9)])
        _ = (a, b, c)
    }
}
