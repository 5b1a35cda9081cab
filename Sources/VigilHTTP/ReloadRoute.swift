import Hummingbird
import VigilCore

/// What a configuration reload came to.
public enum ConfigReloadOutcome: Sendable, Equatable {
    /// The file is in force: its SHA-256, and the settings that changed but wait for a restart.
    case reloaded(sha256: String, restartNeeded: [String])
    /// The file was refused whole (the first error); the running configuration stays.
    case refused(String)
}

/// `POST /v1/system/reload` (admin): 200 with the new hash, or 422 with the first error.
enum ReloadRoute {
    static func add(to v1: RouterGroup<VigilContext>, _ env: APIEnvironment) {
        v1.post("/system/reload") { req, ctx in
            let p = try ctx.caller()
            var req = req
            try Input.onlyKeys(try Input.object(try await VigilAPI.body(&req), allowEmpty: true), [], in: "")
            guard let reload = env.reload else {
                throw VigilError.unavailable("this server cannot reload its configuration")
            }
            switch await reload(p.name) {
            case .reloaded(let sha, let restartNeeded):
                return VigilAPI.json([
                    "status": "reloaded", "sha256": .string(sha),
                    "restart_needed": .array(restartNeeded.map { .string($0) }),
                ])
            case .refused(let why):
                throw APIError(status: .unprocessableContent, code: "config_refused", message: why)
            }
        }
    }
}
