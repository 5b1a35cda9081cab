import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import VigilCore
import VigilHTTP
import VigilTestKit

/// The router with an in-memory engine, driven in process.
struct APIHarness {
    let time = ManualTime()
    let store = InMemoryStore()
    let engine: SessionEngine
    let app: Application<RouterResponder<VigilContext>>

    static let op = "operator-token-0123456789"
    static let integration = "integration-token-0123456789"

    init() {
        engine = SessionEngine(
            store: store, scheduler: time, clock: time,
            policies: [
                "default": Policy(
                    name: "default", ackTimeout: .seconds(60), steps: [Step(after: .zero, action: .dispatch(["ems"]))])
            ],
            observer: RecordingObserver())
        let env = APIEnvironment(
            engine: engine, store: store, hub: EventHub(),
            auth: TokenAuthenticator([
                TokenEntry(name: "console", role: .operator, token: Self.op),
                TokenEntry(name: "psap", role: .integration, token: Self.integration),
            ]), publicURL: "https://vigil.example", assetsDirectory: nil,
            readiness: { Readiness(ready: true, checks: [:]) }, metrics: { "" }, logger: Logger(label: "test"))
        app = Application(router: VigilAPI.router(env))
    }

    static func bearer(_ t: String) -> HTTPFields { [.authorization: "Bearer \(t)", .contentType: "application/json"] }

    static let startBody =
        #"{"location":{"address":"123 Main St","unit":"4B"},"check_in_interval_s":120,"caller":{"alias":"J"}}"#
}

func errorCode(_ r: TestResponse) -> String? {
    (try? VigilJSON.decode(JSONValue.self, from: Array(r.body.readableBytesView)))?["error"]?["code"]?.stringValue
}

func jsonBody(_ r: TestResponse) -> JSONValue? {
    try? VigilJSON.decode(JSONValue.self, from: Array(r.body.readableBytesView))
}

@Suite("the HTTP API, in process")
struct APITests {
    @Test("start, read, check in and end a session")
    func lifecycle() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await client.execute(
                uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: APIHarness.startBody)
            ) { r in
                #expect(r.status == .created)
                let s = try #require(jsonBody(r))
                #expect(s["state"]?.stringValue == "active")
                #expect(s["grace_s"]?.intValue == 30)
                #expect(s["policy"]?.stringValue == "default")
                #expect(s["check_in_url"]?.stringValue?.hasPrefix("https://vigil.example/c/") == true)
                return s["id"]!.stringValue!
            }
            try await client.execute(uri: "/v1/sessions/\(id)", method: .get, headers: APIHarness.bearer(APIHarness.op))
            { r in
                #expect(r.status == .ok)
                #expect(jsonBody(r)?["events"] != nil)
            }
            try await client.execute(
                uri: "/v1/sessions/\(id)/check-ins", method: .post, headers: APIHarness.bearer(APIHarness.integration)
            ) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(
                uri: "/v1/sessions/\(id)/end", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: #"{"outcome":"safe"}"#)
            ) { r in
                #expect(r.status == .ok)
                #expect(jsonBody(r)?["state"]?.stringValue == "ended")
            }
            try await client.execute(
                uri: "/v1/sessions/\(id)/check-ins", method: .post, headers: APIHarness.bearer(APIHarness.op)
            ) { r in
                #expect(r.status == .conflict)
            }
        }
    }

    @Test(
        "bad input is a 400 with a JSON error, and nothing is created",
        arguments: [
            "{", "[]", "{}", #"{"location":{"address":""},"check_in_interval_s":60}"#,
            #"{"location":{"address":"x"},"check_in_interval_s":"60"}"#,
            #"{"location":{"address":"x"},"check_in_interval_s":0}"#,
            #"{"location":{"address":"x"},"check_in_interval_s":1.5}"#,
            #"{"location":{"address":"x"},"check_in_interval_s":60,"grace_s":-1}"#,
            #"{"location":{"address":"x","latitude":91,"longitude":0},"check_in_interval_s":60}"#,
            #"{"location":{"address":"x"},"check_in_interval_s":60,"interval":5}"#,
            #"{"location":{"address":"x"},"check_in_interval_s":60,"policy":"nope"}"#,
            #"{"location":"x","check_in_interval_s":60}"#,
        ])
    func badInput(body: String) async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: body)
            ) { r in
                #expect(r.status == .badRequest, "\(body)")
                #expect(errorCode(r) == "invalid_request")
            }
        }
        #expect(try await h.store.sessions(.all, limit: 10).isEmpty)
    }

    @Test(
        "no /v1 route answers without a valid bearer token",
        arguments: [nil, "Bearer wrong-token-xxxxxxxx", "Basic b3A6b3A=", "Bearer "])
    func needsToken(header: String?) async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            for (uri, method) in [
                ("/v1/sessions", HTTPRequest.Method.get), ("/v1/sessions", .post), ("/v1/sessions/ses_abc", .get),
                ("/v1/sessions/ses_abc/check-ins", .post), ("/v1/sessions/ses_abc/dispatch", .post),
                ("/v1/events", .get),
                ("/metrics", .get),
            ] {
                var headers: HTTPFields = [:]
                if let header { headers[.authorization] = header }
                try await client.execute(uri: uri, method: method, headers: headers) { r in
                    #expect(r.status == .unauthorized, "\(method) \(uri)")
                    #expect(errorCode(r) == "unauthorized")
                }
            }
        }
    }

    @Test("roles: an integration cannot start sessions; an operator cannot report dispatch status")
    func roles() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.integration),
                body: ByteBuffer(string: APIHarness.startBody)
            ) { r in #expect(r.status == .forbidden) }
            try await client.execute(
                uri: "/v1/sessions/ses_abc/dispatch-status", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: #"{"status":"en_route"}"#)
            ) { r in #expect(r.status == .forbidden) }
        }
    }

    @Test("a body over 1 MiB gets 413")
    func tooLarge() async throws {
        let h = APIHarness()
        let big = #"{"notes":""# + String(repeating: "a", count: 2 << 20) + #""}"#
        try await h.app.test(.router) { client in
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: big)
            ) { r in
                #expect(r.status == .contentTooLarge)
                #expect(errorCode(r) == "body_too_large")
            }
        }
    }

    @Test(
        "unknown ids and path tricks are 404s with a JSON error",
        arguments: [
            "/v1/sessions/ses_doesnotexist", "/v1/sessions/..%2F..%2Fetc%2Fpasswd", "/v1/sessions/ses_ABC",
            "/v1/sessions/" + String(repeating: "a", count: 500), "/v1/nothing", "/console/..%2F..%2FPackage.swift",
        ])
    func notFound(uri: String) async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            try await client.execute(uri: uri, method: .get, headers: APIHarness.bearer(APIHarness.op)) { r in
                #expect(r.status == .notFound, "\(uri)")
                #expect(errorCode(r) == "not_found")
            }
        }
    }

    @Test("the check-in link: a page without the address, a form post that checks in, dead after end")
    func checkInLink() async throws {
        let h = APIHarness()
        let s = try await h.engine.start(
            StartRequest(
                caller: Caller(alias: "J"), location: Location(address: "123 Main St"), interval: .seconds(60),
                grace: .seconds(30), policy: "default", notes: nil))
        try await h.app.test(.router) { client in
            try await client.execute(uri: "/c/\(s.checkInToken)", method: .get) { r in
                #expect(r.status == .ok)
                let html = String(buffer: r.body)
                #expect(html.contains("I'm OK"))
                #expect(!html.contains("Main"))
                #expect(!html.contains("J"))
                #expect(r.body.readableBytes < 10_240)
            }
            try await client.execute(
                uri: "/c/\(s.checkInToken)", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded"]
            ) { r in
                #expect(r.status == .seeOther)
            }
            #expect(try await h.store.events(of: s.id).map(\.type).contains(.checkInReceived))
            _ = try await h.engine.execute(s.id, .end(outcome: .safe, by: "t", note: nil))
            try await client.execute(uri: "/c/\(s.checkInToken)", method: .post) { r in #expect(r.status == .gone) }
            try await client.execute(uri: "/c/\(String(repeating: "a", count: 32))", method: .get) { r in
                #expect(r.status == .notFound)
            }
        }
    }

    @Test("constant-time comparison still tells tokens apart")
    func tokenCompare() {
        #expect(TokenAuthenticator.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!TokenAuthenticator.constantTimeEquals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!TokenAuthenticator.constantTimeEquals(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!TokenAuthenticator.constantTimeEquals([], []))
    }
}
