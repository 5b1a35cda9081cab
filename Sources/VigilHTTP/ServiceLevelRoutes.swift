import Hummingbird
import VigilCore

/// `GET /v1/reports/slo?from=…&to=…` (viewer and up): each service level's percentiles and the fraction within its
/// objective, over the intervals that began in `[from, to)`.
enum ServiceLevelRoutes {
    static func add(to v1: RouterGroup<VigilContext>, _ env: APIEnvironment) {
        v1.get("/reports/slo") { req, _ in
            let from = try Input.reportBound(req.uri.queryParameters["from"].map(String.init), name: "from")
            let to = try Input.reportBound(req.uri.queryParameters["to"].map(String.init), name: "to")
            if let from, let to, to <= from { throw VigilError.invalid("to must be after from") }
            let report = try await env.store.serviceLevels(from: from, to: to, targets: env.serviceLevelTargets)
            guard case .object(var o) = report.json else { return VigilAPI.json(report.json) }
            o["from"] = .time(from)
            o["to"] = .time(to)
            o["targets"] = .object(
                Dictionary(
                    uniqueKeysWithValues: env.serviceLevelTargets.map { level, ms in
                        (level.rawValue + "_s", JSONValue.double(Double(ms.value) / 1000))
                    }))
            return VigilAPI.json(.object(o))
        }
    }
}
