import Hummingbird
import VigilCore

/// The live event stream and its single-use tickets.
struct EventsController {
    let env: APIEnvironment

    func add(to v1: RouterGroup<VigilContext>) {
        let env = env
        v1.post("/events/ticket") { req, ctx in
            let p = try ctx.caller()
            var req = req
            try Input.onlyKeys(try Input.object(try await VigilAPI.body(&req), allowEmpty: true), [], in: "")
            let ticket = env.tickets.issue(for: p, at: env.engine.now())
            return VigilAPI.json(["ticket": .string(ticket), "expires_in_s": .int(StreamTickets.lifetime.wholeSeconds)])
        }
        v1.get("/events") { req, ctx in
            let p = try ctx.caller()
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
            return try EventStream.response(env: env, after: last, owner: p.name, staff: p.role.isStaff)
        }
    }
}
