import Hummingbird
import VigilCore

/// Who may call a route.
enum Access: Sendable, Equatable {
    /// Anyone: health probes, the console's files, and the routes whose credential is in the path (a check-in or
    /// responder link) or in a provider's signature (inbound SMS), each checked by its route.
    case open
    /// A bearer token whose role allows the permission.
    case token(Permission)
    /// As `token`, or a single-use stream ticket (the event stream: browsers cannot set headers on `EventSource`).
    case tokenOrTicket(Permission)
}

/// The role table applied to every route in one place (docs/contract.md, "Roles"): the permission each route needs.
/// A route that is not listed here is refused with 403 before it runs, so a new route cannot be opened by
/// forgetting a check; `AccessTableTests` checks that every registered route is listed.
enum RouteAccess {
    static let table: [String: Access] = [
        "GET /healthz": .open,
        "GET /readyz": .open,
        "GET /metrics": .token(.metrics),
        "GET /openapi.yaml": .open,
        "GET /": .open,
        "GET /console/{file}": .open,
        "GET /c/{token}": .open,
        "POST /c/{token}": .open,
        "GET /r/{token}": .open,
        "POST /r/{token}": .open,
        "POST /v1/inbound/sms": .open,
        "PUT /v1/plans/{name}": .token(.plans),
        "GET /v1/plans/{name}": .token(.plans),
        "DELETE /v1/plans/{name}": .token(.plans),
        "POST /v1/system/mass-lapse/release": .token(.releaseMassLapse),
        "POST /v1/sessions": .token(.start),
        "GET /v1/sessions": .token(.read),
        "GET /v1/sessions/{id}": .token(.read),
        "PATCH /v1/sessions/{id}": .token(.update),
        "POST /v1/sessions/{id}/check-ins": .token(.checkIn),
        "POST /v1/sessions/{id}/acknowledge": .token(.acknowledge),
        "POST /v1/sessions/{id}/dispatch": .token(.dispatch),
        "POST /v1/sessions/{id}/end": .token(.end),
        "POST /v1/sessions/{id}/dispatch-status": .token(.reportDispatchStatus),
        "POST /v1/sessions/{id}/location/reveal": .token(.viewLocation),
        "POST /v1/sessions/{id}/check-in-link": .token(.viewCheckInLink),
        "GET /v1/sessions/{id}/timeline": .token(.read),
        "GET /v1/follow-ups": .token(.read),
        "POST /v1/follow-ups/{id}/close": .token(.update),
        "GET /v1/reports/summary": .token(.read),
        "POST /v1/events/ticket": .token(.read),
        "GET /v1/events": .tokenOrTicket(.read),
        "GET /v1/operators/connected": .token(.read),
        "GET /v1/history": .token(.read),
        "GET /v1/stats": .token(.read),
        "POST /v1/inbound/sms/status": .open,
        "POST /v1/system/reload": .token(.reloadConfiguration),
        "GET /v1/audit/head": .token(.auditHead),
        "GET /v1/canary": .token(.read),
        "GET /v1/reports/slo": .token(.read),
    ]

    /// The table's key for a method and a route's path as the router names it.
    static func key(_ method: HTTPRequest.Method, _ path: String) -> String { "\(method.rawValue) \(path)" }
}

/// Authenticates the caller of every route by `RouteAccess`, before the route reads its body, and puts the
/// principal in the context (`context.caller()`).
struct AccessMiddleware: RouterMiddleware {
    typealias Context = VigilContext
    let auth: TokenAuthenticator
    let tickets: StreamTickets
    let now: @Sendable () -> Timestamp

    func handle(
        _ request: Request, context: VigilContext, next: (Request, VigilContext) async throws -> Response
    ) async throws -> Response {
        // No route matched: the router answers 404 without running anything.
        guard let path = context.endpointPath, path != "NotFound" else { return try await next(request, context) }
        guard let access = RouteAccess.table[RouteAccess.key(request.method, path)] else {
            throw APIError(status: .forbidden, code: "forbidden", message: "this route has no access rule")
        }
        var context = context
        switch access {
        case .open: break
        case .token(let permission): context.principal = try principal(request, permission, allowTicket: false)
        case .tokenOrTicket(let permission): context.principal = try principal(request, permission, allowTicket: true)
        }
        return try await next(request, context)
    }

    /// The caller, from a bearer token or (where allowed) a single-use ticket; never a token in the URL.
    func principal(_ req: Request, _ permission: Permission, allowTicket: Bool) throws -> Principal {
        let found: Principal?
        if let h = req.headers[.authorization] {
            let parts = h.split(separator: " ", maxSplits: 1)
            found = parts.count == 2 && parts[0].lowercased() == "bearer" ? auth.authenticate(String(parts[1])) : nil
        } else if allowTicket, let t = req.uri.queryParameters["ticket"] {
            found = tickets.redeem(String(t), at: now(), roles: { auth.role(ofTokenNamed: $0) })
        } else {
            found = nil
        }
        guard let p = found else { throw APIError.unauthorized }
        guard p.role.allows(permission) else { throw APIError.forbidden(p.role) }
        return p
    }
}

extension VigilContext {
    /// The authenticated caller. `AccessMiddleware` sets it for every route that needs a token; a route that
    /// asks without one fails closed.
    func caller() throws -> Principal {
        guard let principal else { throw APIError.unauthorized }
        return principal
    }
}
