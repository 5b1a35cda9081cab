import Hummingbird
import VigilCore

/// `GET /v1/audit/head`: the chained event log's last link, to be written down somewhere else.
enum AuditController {
    static func add(to v1: RouterGroup<VigilContext>, _ env: APIEnvironment) {
        v1.get("/audit/head") { _, _ in
            guard let log = env.store as? any AuditLog else {
                throw VigilError.unavailable("this store keeps no chained log")
            }
            return VigilAPI.json(try await log.auditHead().json)
        }
    }
}
