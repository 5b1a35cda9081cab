import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import VigilCore
import Yams

@testable import VigilHTTP

@Suite("route access: one table, applied before every route, failing closed")
struct AccessTableTests {
    /// A route's path with sample values for its parameters.
    static func sample(_ path: String) -> String {
        path.replacingOccurrences(of: "{id}", with: "ses_0123456789abcdef")
            .replacingOccurrences(of: "{name}", with: "plan").replacingOccurrences(of: "{token}", with: "tok")
            .replacingOccurrences(of: "{file}", with: "console.js")
    }

    @Test("every registered route has an access rule, and every rule names a registered route")
    func tableMatchesRoutes() {
        let router = VigilAPI.router(APIHarness().env)
        let registered = Set(router.routes.map { RouteAccess.key($0.method, $0.path.description) })
        #expect(registered.subtracting(RouteAccess.table.keys).isEmpty, "routes without a rule")
        #expect(Set(RouteAccess.table.keys).subtracting(registered).isEmpty, "rules without a route")
    }

    @Test("the router's routes and the OpenAPI document's operations are the same set")
    func everyRouteIsDocumented() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/VigilHTTP/Assets/openapi.yaml").standardized
        let doc = try #require(try Yams.load(yaml: String(contentsOf: file, encoding: .utf8)) as? [String: Any])
        let paths = try #require(doc["paths"] as? [String: Any])
        var documented: Set<String> = []
        for (path, value) in paths {
            for method in (value as? [String: Any] ?? [:]).keys
            where ["get", "post", "put", "patch", "delete"].contains(method) {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        let routed = Set(VigilAPI.router(APIHarness().env).routes.map { "\($0.method.rawValue) \($0.path)" })
        #expect(routed.subtracting(documented).isEmpty, "routed but not documented")
        #expect(documented.subtracting(routed).isEmpty, "documented but not routed")
    }

    @Test("every route that needs a token answers 401 without one and 403 to a role the table does not allow")
    func tokenRoutesRefuseAnonymousAndWrongRole() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            for (key, access) in RouteAccess.table {
                let permission: Permission
                switch access {
                case .open: continue
                case .token(let p), .tokenOrTicket(let p): permission = p
                }
                let parts = key.split(separator: " ", maxSplits: 1)
                let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                let uri = Self.sample(String(parts[1]))
                try await client.execute(uri: uri, method: method, body: ByteBuffer(string: "{}")) { r in
                    #expect(r.status == .unauthorized, "\(key) without a token")
                }
                // A role the table refuses is told so before the route runs (no 404, no validation error).
                guard let refused = Role.allCases.first(where: { !$0.allows(permission) }) else { continue }
                try await client.execute(
                    uri: uri, method: method, headers: APIHarness.bearer(APIHarness.token(refused)),
                    body: ByteBuffer(string: "{}")
                ) { r in
                    #expect(r.status == .forbidden, "\(key) as \(refused.rawValue)")
                }
            }
        }
    }

    @Test("a route missing from the table is refused with 403 before it runs")
    func unlistedRouteFailsClosed() async throws {
        let router = VigilAPI.router(APIHarness().env)
        let ran = Counter()
        router.get("/v1/unlisted") { _, _ in
            ran.add()
            return "ran"
        }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/v1/unlisted", method: .get) { r in
                #expect(r.status == .forbidden)
            }
            try await client.execute(
                uri: "/v1/unlisted", method: .get, headers: APIHarness.bearer(APIHarness.token(.admin))
            ) { r in
                #expect(r.status == .forbidden)
            }
        }
        #expect(ran.value == 0)
    }

    @Test("an unknown path is still 404, not 403")
    func unknownPathIsNotFound() async throws {
        try await APIHarness().app.test(.router) { client in
            try await client.execute(uri: "/v1/nothing-here", method: .get) { r in #expect(r.status == .notFound) }
        }
    }
}

/// Counts calls across tasks.
final class Counter: Sendable {
    private let n = Atomic<Int>(0)
    func add() { n.add(1, ordering: .relaxed) }
    var value: Int { n.load(ordering: .relaxed) }
}
