import Hummingbird
import VigilCore

/// Follow-ups and the summary report.
struct FollowUpsController {
    let env: APIEnvironment

    func add(to v1: RouterGroup<VigilContext>) {
        let env = env
        v1.get("/follow-ups") { req, ctx in
            let p = try ctx.caller()
            let state = req.uri.queryParameters["state"].map(String.init)
            if let state, state != "open", state != "closed" {
                throw VigilError.invalid("state must be open or closed")
            }
            let sessions = try await env.store.followUps(state: state)
            // Staff call the person back: an open follow-up carries the number (until the purge empties it).
            let now = env.engine.now()
            let list = sessions.compactMap { s -> JSONValue? in
                // `due`: open and its time has come (the console lists it as due and reminds).
                guard case .object(var o)? = FollowUp.json(s, callbackNumber: p.role.isStaff) else { return nil }
                o["due"] = .bool(s.followUp?.isDue(at: now) ?? false)
                // The five nearest resources, to offer at the call.
                let near = ResourcePicker.pick(env.person.resources, near: s.location, language: s.spokenLanguage)
                o["resources"] = .array(near.prefix(ResourcePicker.pageLimit).map { .string($0.id) })
                return .object(o)
            }.sorted {
                ($0["due_at"]?.stringValue ?? "") < ($1["due_at"]?.stringValue ?? "")
            }
            return VigilAPI.json(["follow_ups": .array(list)])
        }
        v1.post("/follow-ups/{id}/close") { req, ctx in
            let p = try ctx.caller()
            let raw = try ctx.parameters.require("id")
            guard let sid = FollowUp.session(of: raw) else { throw VigilError(.notFound, "no such follow-up") }
            var req = req
            let close = try Input.closeFollowUp(
                try await VigilAPI.body(&req), resources: Set(env.person.resources.map(\.id)))
            let kinds = Dictionary(env.person.resources.map { ($0.id, $0.kind) }, uniquingKeysWith: { a, _ in a })
            let referrals = close.referrals.compactMap { id in kinds[id].map { Referral(id: id, kind: $0) } }
            let s: Session
            do {
                s = try await env.engine.execute(
                    sid,
                    .closeFollowUp(
                        close.outcome, naloxoneUsed: close.naloxoneUsed, note: close.note, by: p.actorName,
                        referrals: referrals),
                    actor: p.actor)
            } catch let e as VigilError where e == .sessionNotFound {
                throw VigilError(.notFound, "no such follow-up")
            }
            return VigilAPI.json(FollowUp.json(s) ?? .null)
        }
        v1.get("/reports/summary") { req, _ in
            let from = try Input.reportBound(req.uri.queryParameters["from"].map(String.init), name: "from")
            let to = try Input.reportBound(req.uri.queryParameters["to"].map(String.init), name: "to")
            if let from, let to, to <= from { throw VigilError.invalid("to must be after from") }
            var body = try await env.store.summary(from: from, to: to).json
            if case .object(var o) = body {
                o["from"] = .time(from)
                o["to"] = .time(to)
                body = .object(o)
            }
            return VigilAPI.json(body)
        }
    }
}
