import Foundation
import Hummingbird
import Logging
import VigilCore

/// The request context: Hummingbird's core storage plus the authenticated caller.
public struct VigilContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller, once authenticated.
    public var principal: Principal?

    public init(source: Source) {
        coreContext = .init(source: source)
        principal = nil
    }
}

/// Whether the service can do its job, for `/readyz`.
public struct Readiness: Sendable {
    /// All checks pass.
    public var ready: Bool
    /// Each check and what it found.
    public var checks: [String: String]

    /// Creates a readiness report.
    public init(ready: Bool, checks: [String: String]) {
        self.ready = ready
        self.checks = checks
    }
}

/// What the HTTP layer needs from the rest of the service.
public struct APIEnvironment: Sendable {
    /// The session engine.
    public var engine: SessionEngine
    /// The store, for timelines and listings.
    public var store: any SessionStore
    /// Live events.
    public var hub: EventHub
    /// Bearer tokens.
    public var auth: TokenAuthenticator
    /// Base of absolute check-in links, when configured.
    public var publicURL: String?
    /// Serve console files from this directory instead of the bundle (for development).
    public var assetsDirectory: String?
    /// Readiness probe.
    public var readiness: @Sendable () async -> Readiness
    /// Prometheus text.
    public var metrics: @Sendable () async -> String
    /// The logger.
    public var logger: Logger
    /// Event stream tickets.
    public var tickets: StreamTickets
    /// Check-ins by text, when `sms:` is configured.
    public var sms: InboundSMS?

    /// Creates an environment.
    public init(
        engine: SessionEngine, store: any SessionStore, hub: EventHub, auth: TokenAuthenticator, publicURL: String?,
        assetsDirectory: String?, readiness: @escaping @Sendable () async -> Readiness,
        metrics: @escaping @Sendable () async -> String, logger: Logger, tickets: StreamTickets
    ) {
        self.tickets = tickets
        self.engine = engine
        self.store = store
        self.hub = hub
        self.auth = auth
        self.publicURL = publicURL
        self.assetsDirectory = assetsDirectory
        self.readiness = readiness
        self.metrics = metrics
        self.logger = logger
    }
}

/// Builds the router of every route in CONTRACT.
public enum VigilAPI {
    /// The largest request body accepted.
    public static let maxBody = 1 << 20

    /// The router.
    public static func router(_ env: APIEnvironment) -> Router<VigilContext> {
        let router = Router(context: VigilContext.self)
        router.add(middleware: ErrorMiddleware(logger: env.logger))
        let assets = Assets(directory: env.assetsDirectory)

        router.get("/healthz") { _, _ in json(["status": "ok"]) }
        router.get("/readyz") { _, _ in
            let r = await env.readiness()
            var body: [String: JSONValue] = ["status": .string(r.ready ? "ready" : "not_ready")]
            body["checks"] = .object(r.checks.mapValues { .string($0) })
            return json(.object(body), status: r.ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { req, _ in
            _ = try authorize(req, env, .metrics)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: await env.metrics())))
        }
        router.get("/openapi.yaml") { _, _ in try assets.response("openapi.yaml") }
        router.get("/") { _, _ in try assets.response("console/index.html") }
        router.get("/console/{file}") { _, ctx in
            let file = try ctx.parameters.require("file")
            guard
                file.range(of: "^[A-Za-z0-9_-]+\\.(js|css|html|svg|png|ico|json)$", options: .regularExpression) != nil
            else { throw VigilError(.notFound, "no such file") }
            return try assets.response("console/" + file)
        }

        // The person's own check-in link.
        router.get("/c/{token}") { req, ctx in
            let token = try ctx.parameters.require("token")
            return await CheckInPage.get(token: token, ok: req.uri.queryParameters["ok"] != nil, env: env)
        }
        router.post("/c/{token}") { req, ctx in
            let token = try ctx.parameters.require("token")
            var req = req
            _ = try await body(&req)
            return await CheckInPage.post(token: token, env: env)
        }

        // A responder's page: who, where, and three answers.
        router.get("/r/{token}") { _, ctx in
            await ResponderPage.get(token: try ctx.parameters.require("token"), env: env)
        }
        router.post("/r/{token}") { req, ctx in try await ResponderPage.post(req, ctx, env) }

        let v1 = router.group("/v1")
        v1.put("/plans/{name}") { req, ctx in try await PlansAPI.put(req, ctx, env) }
        v1.get("/plans/{name}") { req, ctx in try await PlansAPI.get(req, ctx, env) }
        v1.delete("/plans/{name}") { req, ctx in try await PlansAPI.delete(req, ctx, env) }
        v1.post("/inbound/sms") { req, _ in try await InboundSMS.receive(req, env) }
        v1.post("/system/mass-lapse/release") { req, _ in
            let p = try authorize(req, env, .releaseMassLapse)
            var req = req
            let o = try Input.object(try await body(&req), allowEmpty: true)
            try Input.onlyKeys(o, ["note"], in: "")
            _ = try Input.string(o, "note")
            let n = try await env.engine.releaseMassLapseHolds(by: p.name, actor: p.actor)
            env.logger.notice("mass-lapse holds released", metadata: ["by": "\(p.name)", "sessions": "\(n)"])
            return json(["released": .int(Int64(n))])
        }
        v1.post("/sessions") { req, _ in
            let p = try authorize(req, env, .start)
            var req = req
            let bytes = try await body(&req)
            var start = try Input.start(bytes)
            try await PlansAPI.resolve(&start, body: bytes, env)
            if let device = start.device, !env.auth.deviceNames.contains(device) {
                throw VigilError.invalid("device must name a configured token of the device role")
            }
            let s = try await env.engine.start(start, key: idempotencyKey(req), actor: p.actor)
            env.logger.info("session started", metadata: ["session": "\(s.id)", "by": "\(p.name)"])
            return try sessionResponse(s, env, status: .created)
        }
        v1.get("/sessions") { req, _ in
            _ = try authorize(req, env, .read)
            let filter: SessionFilter
            switch req.uri.queryParameters["state"].map(String.init) {
            case nil, "open": filter = .open
            case "all": filter = .all
            case let s?:
                guard let st = SessionState(rawValue: s) else {
                    throw VigilError.invalid(
                        "state must be open, all, or one of active, overdue, escalating, dispatched, ended")
                }
                filter = .state(st)
            }
            var limit = 1000
            if let raw = req.uri.queryParameters["limit"] {
                guard let n = Int(raw), (1...10_000).contains(n) else {
                    throw VigilError.invalid("limit must be a whole number from 1 to 10000")
                }
                limit = n
            }
            let sessions: [Session]
            if filter == .open {
                sessions = await env.engine.openSessions().sorted { $0.startedAt > $1.startedAt }.prefix(limit).map {
                    $0
                }
            } else {
                sessions = try await env.store.sessions(filter, limit: limit)
            }
            let views = try sessions.map { try viewJSON($0, env) }
            return json(["sessions": .array(views)])
        }
        v1.get("/sessions/{id}") { req, ctx in
            _ = try authorize(req, env, .read)
            let id = try sessionID(ctx)
            guard let s = try await env.engine.session(id) else { throw VigilError.sessionNotFound }
            var view = try viewJSON(s, env)
            let events = try await env.store.events(of: id)
            if case .object(var o) = view {
                o["events"] = try VigilJSON.decode(JSONValue.self, from: VigilJSON.encode(events.map(EventJSON.init)))
                view = .object(o)
            }
            return json(view)
        }
        v1.patch("/sessions/{id}") { req, ctx in
            let p = try authorize(req, env, .update)
            let id = try sessionID(ctx)
            var req = req
            let patch = try Input.patch(try await body(&req))
            return try await run(id, .update(patch, by: p.name), req, env, actor: p)
        }
        v1.post("/sessions/{id}/check-ins") { req, ctx in
            let p = try authorize(req, env, .checkIn)
            let id = try sessionID(ctx)
            var req = req
            // The source is the channel's, never the body's: a device token checks in as a device.
            let note = try Input.checkIn(try await body(&req))
            guard p.role == .device else {
                return try await run(id, .checkIn(source: .operator, note: note), req, env, actor: p)
            }
            guard let current = try await env.engine.session(id) else { throw VigilError.sessionNotFound }
            guard p.anySession || current.device == p.name else {
                throw APIError.forbidden(p.role, "this device token may check in only the sessions started for it")
            }
            let s = try await env.engine.execute(
                id, .checkIn(source: .device, note: note), key: try idempotencyKey(req), actor: p.actor)
            // A device learns when to check in next, and nothing else of the person.
            return json([
                "id": .string(s.id.rawValue), "state": .string(s.state.rawValue),
                "next_check_in_due_at": s.state == .ended ? .null : .time(s.due),
            ])
        }
        v1.post("/sessions/{id}/acknowledge") { req, ctx in
            let p = try authorize(req, env, .acknowledge)
            let id = try sessionID(ctx)
            var req = req
            // Who acknowledged is the token's name; an `operator` in the body is accepted and ignored.
            let note = try Input.acknowledge(try await body(&req))
            return try await run(id, .acknowledge(operator: p.name, note: note), req, env, actor: p)
        }
        v1.post("/sessions/{id}/dispatch") { req, ctx in
            let p = try authorize(req, env, .dispatch)
            let id = try sessionID(ctx)
            var req = req
            try Input.dispatch(try await body(&req))
            env.logger.notice("manual dispatch requested", metadata: ["session": "\(id)", "by": "\(p.name)"])
            return try await run(id, .dispatchNow(by: p.name), req, env, status: .accepted, actor: p)
        }
        v1.post("/sessions/{id}/end") { req, ctx in
            let p = try authorize(req, env, .end)
            let id = try sessionID(ctx)
            var req = req
            let (outcome, note) = try Input.end(try await body(&req))
            return try await run(id, .end(outcome: outcome, by: p.name, note: note), req, env, actor: p)
        }
        v1.post("/sessions/{id}/dispatch-status") { req, ctx in
            let p = try authorize(req, env, .reportDispatchStatus)
            let id = try sessionID(ctx)
            var req = req
            let (status, reference, named) = try Input.dispatchStatus(try await body(&req))
            // A dispatch token reports for its own target only; an admin names the target it reports for.
            let target = p.role == .dispatch ? p.target : named
            guard let target else {
                throw VigilError.invalid("target is required: name the dispatch target this report is for")
            }
            guard let current = try await env.engine.session(id) else { throw VigilError.sessionNotFound }
            guard let d = current.dispatch, d.targets.contains(target) else {
                if p.role == .dispatch {
                    throw APIError.forbidden(p.role, "this session's dispatch was not sent to \(target)")
                }
                throw VigilError.conflict("this session's dispatch was not sent to \(target)")
            }
            let s = try await env.engine.execute(
                id, .dispatchStatus(status, reference: reference, by: target), key: try idempotencyKey(req),
                actor: p.actor)
            if p.role == .dispatch { return Response(status: .noContent) }
            return try sessionResponse(s, env, status: .ok)
        }
        addFollowUpRoutes(v1, env)
        v1.post("/events/ticket") { req, _ in
            let p = try authorize(req, env, .read)
            var req = req
            try Input.onlyKeys(try Input.object(try await body(&req), allowEmpty: true), [], in: "")
            let ticket = env.tickets.issue(for: p, at: env.engine.now())
            return json(["ticket": .string(ticket), "expires_in_s": .int(StreamTickets.lifetime.wholeSeconds)])
        }
        v1.get("/events") { req, _ in
            let p = try authorize(req, env, .read, allowTicket: true)
            var header = req.headers[.init("Last-Event-ID")!]
            if header?.trimmingCharacters(in: .whitespaces).isEmpty ?? true {
                header = req.uri.queryParameters["last_event_id"].map(String.init)
            }
            var last: Int64?
            if let header, !header.trimmingCharacters(in: .whitespaces).isEmpty {
                guard let n = Int64(header.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                    throw VigilError.invalid("Last-Event-ID must be a non-negative integer")
                }
                last = n
            }
            return try EventStream.response(env: env, after: last, owner: p.name)
        }
        ConsoleRoutes.add(to: v1, env)
        return router
    }

    // MARK: Helpers

    /// The caller, from a bearer token or (for the event stream) a single-use ticket; never a token in the URL.
    static func authorize(
        _ req: Request, _ env: APIEnvironment, _ permission: Permission, allowTicket: Bool = false
    ) throws -> Principal {
        var token: String?
        if let h = req.headers[.authorization] {
            let parts = h.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { token = String(parts[1]) }
        } else if allowTicket, let t = req.uri.queryParameters["ticket"] {
            guard
                let p = env.tickets.redeem(
                    String(t), at: env.engine.now(), roles: { env.auth.role(ofTokenNamed: $0) })
            else { throw APIError.unauthorized }
            guard p.role.allows(permission) else { throw APIError.forbidden(p.role) }
            return p
        }
        guard let token, let p = env.auth.authenticate(token) else { throw APIError.unauthorized }
        guard p.role.allows(permission) else { throw APIError.forbidden(p.role) }
        return p
    }

    static func body(_ req: inout Request) async throws -> [UInt8] {
        if let len = req.headers[.contentLength].flatMap({ Int($0) }), len > maxBody {
            try await drain(req)
            throw APIError.tooLarge
        }
        var collected: [UInt8] = []
        var discarded = 0
        for try await chunk in req.body {
            if collected.count + chunk.readableBytes <= maxBody && discarded == 0 {
                collected.append(contentsOf: chunk.readableBytesView)
            } else {
                // Too large: keep reading (up to 16 MiB) so the client gets its 413, then answer.
                discarded += chunk.readableBytes
                if discarded > 16 << 20 { break }
            }
        }
        if discarded > 0 { throw APIError.tooLarge }
        return collected
    }

    /// Reads and discards what is left of an oversized body (up to 16 MiB), so the client that is still sending
    /// it gets its 413 instead of a stalled connection; past that the connection is closed.
    static func drain(_ req: Request) async throws {
        var discarded = 0
        for try await chunk in req.body {
            discarded += chunk.readableBytes
            if discarded > 16 << 20 { break }
        }
    }

    static func sessionID(_ ctx: VigilContext) throws -> SessionID {
        let raw = try ctx.parameters.require("id")
        guard let id = SessionID(validating: raw) else { throw VigilError.sessionNotFound }
        return id
    }

    static func idempotencyKey(_ req: Request) throws -> String? {
        guard let k = req.headers[.init("Idempotency-Key")!] else { return nil }
        guard (1...200).contains(k.utf8.count) else {
            throw VigilError.invalid("Idempotency-Key must be 1 to 200 characters")
        }
        return k
    }

    static func run(
        _ id: SessionID, _ command: Command, _ req: Request, _ env: APIEnvironment, status: HTTPResponse.Status = .ok,
        actor: Principal
    ) async throws -> Response {
        let s = try await env.engine.execute(id, command, key: try idempotencyKey(req), actor: actor.actor)
        return try sessionResponse(s, env, status: status)
    }

    static func checkInURL(_ s: Session, _ env: APIEnvironment) -> String {
        let path = "/c/\(s.checkInToken)"
        guard let base = env.publicURL else { return path }
        return base.hasSuffix("/") ? String(base.dropLast()) + path : base + path
    }

    static func viewJSON(_ s: Session, _ env: APIEnvironment) throws -> JSONValue {
        try VigilJSON.decode(
            JSONValue.self, from: VigilJSON.encode(SessionView(api: s, checkInURL: checkInURL(s, env))))
    }

    static func sessionResponse(_ s: Session, _ env: APIEnvironment, status: HTTPResponse.Status) throws -> Response {
        let bytes = try VigilJSON.encode(SessionView(api: s, checkInURL: checkInURL(s, env)))
        return Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = (try? VigilJSON.encode(value)) ?? Array("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// An event as the API shows it: `{"seq", "type", "at", "session_id", "data"}`.
struct EventJSON: Encodable {
    let event: StoredEvent
    init(_ e: StoredEvent) { event = e }
    func encode(to encoder: any Encoder) throws { try event.encode(to: encoder) }
}
