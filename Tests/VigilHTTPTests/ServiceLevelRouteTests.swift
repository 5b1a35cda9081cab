import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VigilCore
import VigilHTTP
import VigilTestKit

/// `GET /v1/reports/slo`: a viewer reads it; the body names every level, the window and the objectives.
@Suite("Service-level route")
struct ServiceLevelRouteTests {
    @Test("a viewer reads the report: three levels, the window and the configured objectives, no personal data")
    func viewerReadsTheReport() async throws {
        var env = APIHarness().env
        env.serviceLevelTargets = [.deadlineToNotify: .seconds(5), .deadlineToDispatch: .seconds(10)]
        let app = Application(router: VigilAPI.router(env))
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/v1/reports/slo?from=2026-11-01&to=2026-12-01", method: .get,
                headers: APIHarness.bearer(APIHarness.token(.viewer))
            ) { r in
                #expect(r.status == .ok)
                let body = try #require(jsonBody(r))
                for level in ["deadline_to_notify", "deadline_to_dispatch", "dispatch_to_accepted"] {
                    #expect(body[level]?["count"] == .int(0))
                    #expect(body[level]?["p50_s"] == .null)
                    #expect(body[level]?["within_target"] == .null)
                }
                #expect(body["from"]?.stringValue?.hasPrefix("2026-11-01T00:00:00") == true)
                #expect(body["targets"]?["deadline_to_notify_s"]?.doubleValue == 5)
                #expect(body["targets"]?["deadline_to_dispatch_s"]?.doubleValue == 10)
            }
            for bad in ["from=yesterday", "from=2026-12-01&to=2026-11-01"] {
                try await client.execute(
                    uri: "/v1/reports/slo?\(bad)", method: .get, headers: APIHarness.bearer(APIHarness.token(.viewer))
                ) { r in #expect(r.status == .badRequest) }
            }
            try await client.execute(uri: "/v1/reports/slo", method: .get) { r in #expect(r.status == .unauthorized) }
        }
    }
}
