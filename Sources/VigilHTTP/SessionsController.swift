import Hummingbird
import Logging
import VigilCore

/// `/v1/sessions`: start, list and read sessions, and the commands on one session. Every command route has the
/// same shape (the caller from the context, the body parsed into a `Command`, executed under the request's
/// `Idempotency-Key`, the session answered), so each is one `command(…)` line and its parser.
struct SessionsController {
    let env: APIEnvironment

    func add(to v1: RouterGroup<VigilContext>) {
        let env = env
        v1.post("/sessions") { req, ctx in
            let p = try ctx.caller()
            var req = req
            let bytes = try await VigilAPI.body(&req)
            var start = try Input.start(bytes, country: env.defaultCountry)
            try await PlansAPI.resolve(&start, body: bytes, env)
            if start.language == nil { start.language = env.person.language }
            if let device = start.device, !env.auth.deviceNames.contains(device) {
                throw VigilError.invalid("device must name a configured token of the device role")
            }
            let s = try await env.engine.start(start, actor: p.actor)
            env.logger.info("session started", metadata: ["session": "\(s.id)", "by": "\(p.name)"])
            // The one read that carries the person's link: whoever starts the session gives it to them.
            return try VigilAPI.sessionResponse(
                s, env, status: .created, disclosure: .full, checkInURL: VigilAPI.checkInURL(s, env))
        }
        v1.get("/sessions") { req, ctx in
            let p = try ctx.caller()
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
            // Canaries are never on the board or in a listing.
            let views = try sessions.filter { !$0.id.isCanary }.map {
                try VigilAPI.viewJSON($0, disclosure: VigilAPI.disclosure(p, $0))
            }
            return VigilAPI.json(["sessions": .array(views)])
        }
        v1.get("/sessions/{id}") { req, ctx in
            let p = try ctx.caller()
            let id = try VigilAPI.sessionID(ctx)
            guard let s = try await env.engine.session(id) else { throw VigilError.sessionNotFound }
            var view = try VigilAPI.viewJSON(s, disclosure: VigilAPI.disclosure(p, s))
            // A viewer's timeline carries no note or text anyone typed.
            let events = try await env.store.events(of: id).map { p.role.isStaff ? $0 : $0.redacted() }
            if case .object(var o) = view {
                o["events"] = try VigilJSON.decode(JSONValue.self, from: VigilJSON.encode(events.map(EventJSON.init)))
                view = .object(o)
            }
            return VigilAPI.json(view)
        }
        command(v1, .patch, "/sessions/{id}") { p, body in
            .update(try Input.patch(body, country: env.defaultCountry), by: p.actorName)
        }
        // Who acknowledged is the token's name; an `operator` in the body is accepted and ignored.
        command(v1, .post, "/sessions/{id}/acknowledge") { p, body in
            .acknowledge(operator: p.actorName, note: try Input.acknowledge(body))
        }
        command(v1, .post, "/sessions/{id}/dispatch", status: .accepted, notice: "manual dispatch requested") {
            p, body in
            try Input.dispatch(body)
            return .dispatchNow(by: p.actorName)
        }
        command(v1, .post, "/sessions/{id}/end") { p, body in
            let end = try Input.end(body)
            return .end(outcome: end.outcome, by: p.actorName, note: end.note)
        }
        v1.post("/sessions/{id}/check-ins") { req, ctx in
            let p = try ctx.caller()
            let id = try VigilAPI.sessionID(ctx)
            var req = req
            // The source is the channel's, never the body's: a device token checks in as a device.
            let note = try Input.checkIn(try await VigilAPI.body(&req))
            guard p.role == .device else {
                return try await VigilAPI.run(id, .checkIn(source: .operator, note: note), req, env, actor: p)
            }
            guard let current = try await env.engine.session(id) else { throw VigilError.sessionNotFound }
            guard p.anySession || current.device == p.name else {
                throw APIError.forbidden(p.role, "this device token may check in only the sessions started for it")
            }
            let s = try await env.engine.execute(id, .checkIn(source: .device, note: note), actor: p.actor)
            // A device learns when to check in next, and nothing else of the person.
            return VigilAPI.json([
                "id": .string(s.id.rawValue), "state": .string(s.state.rawValue),
                "next_check_in_due_at": s.state == .ended ? .null : .time(s.due),
            ])
        }
        v1.post("/sessions/{id}/dispatch-status") { req, ctx in
            let p = try ctx.caller()
            let id = try VigilAPI.sessionID(ctx)
            var req = req
            let report = try Input.dispatchStatus(try await VigilAPI.body(&req))
            // A dispatch token reports for its own target only; an admin names the target it reports for.
            let target = p.role == .dispatch ? p.target : report.target
            guard let target else {
                throw VigilError.invalid("target is required: name the dispatch target this report is for")
            }
            guard let current = try await env.engine.session(id) else { throw VigilError.sessionNotFound }
            // Only a target the dispatch actually went to (its turn came) may report on it.
            guard let d = current.dispatch, d.reached(target) else {
                if p.role == .dispatch {
                    throw APIError.forbidden(p.role, "this session's dispatch was not sent to \(target)")
                }
                throw VigilError.conflict("this session's dispatch was not sent to \(target)")
            }
            let s = try await env.engine.execute(
                id, .dispatchStatus(report.status, reference: report.reference, by: target), actor: p.actor)
            if p.role == .dispatch { return Response(status: .noContent) }
            return try VigilAPI.sessionResponse(s, env, status: .ok, disclosure: VigilAPI.disclosure(p, s))
        }
    }

    /// A command route on one session (`PATCH` for the session itself, `POST` for its verbs); `notice`, when given,
    /// is logged (with the session and who) for every request that parses.
    private func command(
        _ v1: RouterGroup<VigilContext>, _ method: HTTPRequest.Method, _ path: RouterPath,
        status: HTTPResponse.Status = .ok, notice: Logger.Message? = nil,
        _ parse: @escaping @Sendable (Principal, [UInt8]) throws -> Command
    ) {
        let env = env
        let handler: @Sendable (Request, VigilContext) async throws -> Response = { req, ctx in
            let p = try ctx.caller()
            let id = try VigilAPI.sessionID(ctx)
            var req = req
            let command = try parse(p, try await VigilAPI.body(&req))
            if let notice { env.logger.notice(notice, metadata: ["session": "\(id)", "by": "\(p.name)"]) }
            return try await VigilAPI.run(id, command, req, env, status: status, actor: p)
        }
        v1.on(path, method: method, use: handler)
    }
}
