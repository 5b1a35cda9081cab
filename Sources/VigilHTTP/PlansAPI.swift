import Hummingbird
import VigilCore

/// `PUT/GET/DELETE /v1/plans/{name}`: response plans saved under a caller's alias (operator role and up).
enum PlansAPI {
    static func add(to v1: RouterGroup<VigilContext>, _ env: APIEnvironment) {
        v1.put("/plans/{name}") { req, ctx in try await put(req, ctx, env) }
        v1.get("/plans/{name}") { req, ctx in try await get(req, ctx, env) }
        v1.delete("/plans/{name}") { req, ctx in try await delete(req, ctx, env) }
    }

    static func put(_ req: Request, _ ctx: VigilContext, _ env: APIEnvironment) async throws -> Response {
        let p = try ctx.caller()
        let name = try Input.planName(try ctx.parameters.require("name"))
        var req = req
        let responders = try Input.plan(try await VigilAPI.body(&req), country: env.defaultCountry)
        try await store(env).savePlan(named: name, responders: responders, at: env.engine.now())
        env.logger.info("plan saved", metadata: ["by": "\(p.name)", "responders": "\(responders.count)"])
        return try json(name, responders)
    }

    static func get(_ req: Request, _ ctx: VigilContext, _ env: APIEnvironment) async throws -> Response {
        let name = try Input.planName(try ctx.parameters.require("name"))
        guard let responders = try await store(env).plan(named: name) else {
            throw VigilError(.notFound, "no plan is saved under that name")
        }
        return try json(name, responders)
    }

    static func delete(_ req: Request, _ ctx: VigilContext, _ env: APIEnvironment) async throws -> Response {
        let p = try ctx.caller()
        let name = try Input.planName(try ctx.parameters.require("name"))
        guard try await store(env).deletePlan(named: name) else {
            throw VigilError(.notFound, "no plan is saved under that name")
        }
        env.logger.info("plan deleted", metadata: ["by": "\(p.name)"])
        return Response(status: .noContent)
    }

    /// The store's plans; every store Vigil ships keeps them.
    static func store(_ env: APIEnvironment) throws -> any PlanStore {
        guard let plans = env.store as? any PlanStore else {
            throw VigilError.unavailable("this store does not keep response plans")
        }
        return plans
    }

    /// The responders a start body names, directly or through `plan`.
    static func resolve(_ start: inout StartRequest, body: [UInt8], _ env: APIEnvironment) async throws {
        guard let name = try Input.planReference(body) else { return }
        guard let responders = try await store(env).plan(named: name) else {
            throw VigilError.invalid("no plan is saved under the name given in plan")
        }
        start.responders = responders
    }

    static func json(_ name: String, _ responders: [Responder]) throws -> Response {
        let list = try VigilJSON.decode(JSONValue.self, from: VigilJSON.encode(responders))
        return VigilAPI.json(["name": .string(name), "responders": list])
    }
}
