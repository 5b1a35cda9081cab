import Hummingbird
import VigilCore

/// `/v1/system/…` and the SMS provider's webhook.
struct SystemController {
    let env: APIEnvironment

    func add(to v1: RouterGroup<VigilContext>) {
        let env = env
        v1.post("/inbound/sms") { req, _ in try await InboundSMS.receive(req, env) }
        v1.post("/inbound/sms/status") { req, _ in try await InboundSMSStatus.receive(req, env) }
        v1.post("/system/mass-lapse/release") { req, ctx in
            let p = try ctx.caller()
            var req = req
            let o = try Input.object(try await VigilAPI.body(&req), allowEmpty: true)
            try Input.onlyKeys(o, ["note"], in: "")
            _ = try Input.string(o, "note")
            let n = try await env.engine.releaseMassLapseHolds(by: p.actorName, actor: p.actor)
            env.logger.notice("mass-lapse holds released", metadata: ["by": "\(p.name)", "sessions": "\(n)"])
            return VigilAPI.json(["released": .int(Int64(n))])
        }
    }
}
