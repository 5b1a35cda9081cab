import Foundation
import Hummingbird
import VigilCore

/// The routes outside `/v1`: probes, metrics, the console's files, and the person's and responders' own links.
struct PublicRoutes {
    let env: APIEnvironment
    let assets: Assets

    func add(to router: Router<VigilContext>) {
        let env = env
        let assets = assets
        router.get("/healthz") { _, _ in VigilAPI.json(["status": "ok"]) }
        router.get("/readyz") { _, _ in
            let r = await env.readiness()
            var body: [String: JSONValue] = ["status": .string(r.ready ? "ready" : "not_ready")]
            body["checks"] = .object(r.checks.mapValues { .string($0) })
            return VigilAPI.json(.object(body), status: r.ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { req, _ in
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
            _ = try await VigilAPI.body(&req)
            return await CheckInPage.post(token: token, env: env)
        }

        // A responder's page: who, where, and three answers.
        router.get("/r/{token}") { _, ctx in
            await ResponderPage.get(token: try ctx.parameters.require("token"), env: env)
        }
        router.post("/r/{token}") { req, ctx in try await ResponderPage.post(req, ctx, env) }

    }
}
