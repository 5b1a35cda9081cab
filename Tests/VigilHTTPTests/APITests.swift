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
    let env: APIEnvironment
    let app: Application<RouterResponder<VigilContext>>

    static let op = "operator-token-0123456789"
    static let device = "device-token-0123456789"
    /// A token for each role, named after it (the device token is named `dev`, the dispatch token reports for `ems`).
    static func token(_ role: Role) -> String { role == .operator ? op : "\(role.rawValue)-token-0123456789" }

    init(defaultCountry: PhoneNumber.Country? = nil, hubBufferLimit: Int = 10_000) {
        engine = SessionEngine(
            store: store, scheduler: time, clock: time,
            policies: [
                "default": Policy(
                    name: "default", ackTimeout: .seconds(60), steps: [Step(after: .zero, action: .dispatch(["ems"]))])
            ],
            observer: RecordingObserver())
        var env = APIEnvironment(
            engine: engine, store: store, hub: EventHub(bufferLimit: hubBufferLimit),
            auth: TokenAuthenticator(
                Role.allCases.map { role in
                    switch role {
                    case .operator: TokenEntry(name: "console", role: role, token: Self.op)
                    case .device: TokenEntry(name: "dev", role: role, token: Self.token(role))
                    case .dispatch: TokenEntry(name: "psap", role: role, token: Self.token(role), target: "ems")
                    default: TokenEntry(name: role.rawValue, role: role, token: Self.token(role))
                    }
                }), publicURL: "https://vigil.example", assetsDirectory: nil,
            readiness: { Readiness(ready: true, checks: [:]) }, metrics: { "" }, logger: Logger(label: "test"),
            tickets: StreamTickets(secret: Array(repeating: 7, count: 32)))
        env.defaultCountry = defaultCountry
        self.env = env
        app = Application(router: VigilAPI.router(env))
    }

    static func bearer(_ t: String) -> HTTPFields { [.authorization: "Bearer \(t)", .contentType: "application/json"] }

    static let startBody =
        #"{"location":{"address":"123 Main St","unit":"4B"},"check_in_interval_s":120,"caller":{"alias":"J"}}"#
}

func errorCode(_ r: TestResponse) -> String? {
    (try? VigilJSON.decode(JSONValue.self, from: Array(r.body.readableBytesView)))?["error"]?["code"]?.stringValue
}

extension JSONValue {
    /// The keys of an object.
    var objectKeys: [String]? {
        if case .object(let o) = self { return Array(o.keys) }
        return nil
    }
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
                uri: "/v1/sessions/\(id)/check-ins", method: .post, headers: APIHarness.bearer(APIHarness.op)
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

    /// Every route, and the roles that may use it (the role table of docs/contract.md).
    static let routeTable: [(name: String, allowed: Set<Role>)] = [
        ("list", [.viewer, .operator, .supervisor, .admin]), ("read", [.viewer, .operator, .supervisor, .admin]),
        ("start", [.operator, .supervisor, .admin]), ("patch", [.operator, .supervisor, .admin]),
        ("check-in", [.operator, .supervisor, .admin, .device]), ("acknowledge", [.operator, .supervisor, .admin]),
        ("dispatch", [.operator, .supervisor, .admin]), ("end", [.operator, .supervisor, .admin]),
        ("dispatch-status", [.admin, .dispatch]), ("metrics", [.supervisor, .admin, .metrics]),
        ("events", [.viewer, .operator, .supervisor, .admin]), ("check-in-link", [.operator, .supervisor, .admin]),
        ("reveal", [.operator, .supervisor, .admin]),
    ]

    @Test("each role against every route: allowed is 2xx, refused is 403", arguments: Role.allCases)
    func roleTable(role: Role) async throws {
        for (route, allowed) in Self.routeTable {
            // The event stream never ends by itself: only its refusals are asked for here.
            if route == "events" && allowed.contains(role) { continue }
            let h = APIHarness()
            // A session for the device token, escalating with a dispatch requested to ems.
            let s = try await h.engine.start(
                StartRequest(
                    caller: Caller(alias: "J"), location: Location(address: "1 A St"), interval: .seconds(1),
                    grace: .zero, policy: "default", notes: nil, device: "dev"))
            for id in h.time.advance(by: .seconds(2)) { try await h.engine.fire(id) }
            #expect(try await h.engine.session(s.id)?.dispatch != nil)
            let id = s.id.rawValue
            let (uri, method, body): (String, HTTPRequest.Method, String?) =
                switch route {
                case "list": ("/v1/sessions", .get, nil)
                case "read": ("/v1/sessions/\(id)", .get, nil)
                case "start": ("/v1/sessions", .post, APIHarness.startBody)
                case "patch": ("/v1/sessions/\(id)", .patch, #"{"grace_s": 10}"#)
                case "check-in": ("/v1/sessions/\(id)/check-ins", .post, "{}")
                case "acknowledge": ("/v1/sessions/\(id)/acknowledge", .post, "{}")
                case "dispatch": ("/v1/sessions/\(id)/dispatch", .post, "{}")
                case "end": ("/v1/sessions/\(id)/end", .post, #"{"outcome":"safe"}"#)
                case "dispatch-status":
                    ("/v1/sessions/\(id)/dispatch-status", .post, #"{"status":"accepted","target":"ems"}"#)
                case "metrics": ("/metrics", .get, nil)
                case "check-in-link": ("/v1/sessions/\(id)/check-in-link", .post, nil)
                case "reveal": ("/v1/sessions/\(id)/location/reveal", .post, nil)
                default: ("/v1/events", .get, nil)
                }
            try await h.app.test(.router) { client in
                try await client.execute(
                    uri: uri, method: method, headers: APIHarness.bearer(APIHarness.token(role)),
                    body: body.map { ByteBuffer(string: $0) }
                ) { r in
                    if allowed.contains(role) {
                        #expect((200..<300).contains(r.status.code), "\(role) \(route): \(r.status)")
                    } else {
                        #expect(r.status == .forbidden, "\(role) \(route): \(r.status)")
                        #expect(errorCode(r) == "forbidden")
                    }
                }
            }
        }
    }

    @Test("who acted comes from the token: a body's source and operator are ignored")
    func actorFromToken() async throws {
        let h = APIHarness()
        let s = try await h.engine.start(
            StartRequest(
                caller: Caller(alias: "J"), location: Location(address: "1 A St"), interval: .seconds(1), grace: .zero,
                policy: "default", notes: nil, device: "dev"))
        try await h.app.test(.router) { client in
            try await client.execute(
                uri: "/v1/sessions/\(s.id.rawValue)/check-ins", method: .post,
                headers: APIHarness.bearer(APIHarness.token(.device)),
                body: ByteBuffer(string: #"{"source":"caller","note":"from the wearable"}"#)
            ) { r in
                #expect(r.status == .ok)
                // A device learns when to check in next, and nothing of the person.
                #expect(Set(jsonBody(r)?.objectKeys ?? []) == ["id", "state", "next_check_in_due_at"])
            }
        }
        for id in h.time.advance(by: .seconds(3)) { try await h.engine.fire(id) }
        try await h.app.test(.router) { client in
            try await client.execute(
                uri: "/v1/sessions/\(s.id.rawValue)/acknowledge", method: .post,
                headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: #"{"operator":"someone else"}"#)
            ) { r in #expect(r.status == .ok) }
        }
        let events = try await h.store.events(of: s.id)
        let checkIn = try #require(events.first { $0.type == .checkInReceived })
        #expect(checkIn.data["source"]?.stringValue == "device")
        #expect(checkIn.data["by"]?.stringValue == "dev")
        #expect(checkIn.data["role"]?.stringValue == "device")
        let ack = try #require(events.first { $0.type == .escalationAcknowledged })
        #expect(ack.data["operator"]?.stringValue == "console")
        #expect(ack.data["role"]?.stringValue == "operator")
    }

    @Test("a device token checks in only the sessions started for it; a dispatch token reports only for its target")
    func scopes() async throws {
        let h = APIHarness()
        let other = try await h.engine.start(
            StartRequest(
                caller: Caller(alias: "K"), location: Location(address: "2 B St"), interval: .seconds(60), grace: .zero,
                policy: "default", notes: nil))
        try await h.app.test(.router) { client in
            try await client.execute(
                uri: "/v1/sessions/\(other.id.rawValue)/check-ins", method: .post,
                headers: APIHarness.bearer(APIHarness.token(.device))
            ) { r in #expect(r.status == .forbidden) }
            try await client.execute(
                uri: "/v1/sessions/\(other.id.rawValue)/dispatch-status", method: .post,
                headers: APIHarness.bearer(APIHarness.token(.dispatch)),
                body: ByteBuffer(string: #"{"status":"accepted"}"#)
            ) { r in #expect(r.status == .forbidden) }
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: #"{"location":{"address":"x"},"check_in_interval_s":60,"device":"nobody"}"#)
            ) { r in #expect(r.status == .badRequest) }
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
