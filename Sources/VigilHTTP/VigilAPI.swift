import Foundation
import Hummingbird
import Logging
import VigilCore

/// The request context: Hummingbird's core storage plus the authenticated caller.
public struct VigilContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller, once authenticated.
    public var principal: Principal?

    public init(source: Source) {
        coreContext = .init(source: source)
        principal = nil
    }
}

/// Whether the service can do its job, for `/readyz`.
public struct Readiness: Sendable {
    /// All checks pass.
    public var ready: Bool
    /// Each check and what it found.
    public var checks: [String: String]

    /// Creates a readiness report.
    public init(ready: Bool, checks: [String: String]) {
        self.ready = ready
        self.checks = checks
    }
}

/// What the HTTP layer needs from the rest of the service.
public struct APIEnvironment: Sendable {
    /// The session engine.
    public var engine: SessionEngine
    /// The store, for timelines and listings.
    public var store: any SessionStore
    /// Live events.
    public var hub: EventHub
    /// Bearer tokens.
    public var auth: TokenAuthenticator
    /// Base of absolute check-in links, when configured.
    public var publicURL: String?
    /// Serve console files from this directory instead of the bundle (for development).
    public var assetsDirectory: String?
    /// Readiness probe.
    public var readiness: @Sendable () async -> Readiness
    /// Prometheus text.
    public var metrics: @Sendable () async -> String
    /// The logger.
    public var logger: Logger
    /// Event stream tickets.
    public var tickets: StreamTickets
    /// Check-ins by text, when `sms:` is configured.
    public var sms: InboundSMS?
    /// The SMS gateway's status callbacks, when a twilio target or `sms:` is configured.
    public var smsStatus: InboundSMSStatus?
    /// The country whose national numbers may be typed without `+` (`default_country`), if any.
    public var defaultCountry: PhoneNumber.Country?
    /// Reads the configuration file again (`POST /v1/system/reload`), for the token named; nil: not offered.
    public var reload: (@Sendable (String) async -> ConfigReloadOutcome)?
    /// The canaries' dashboard row (`GET /v1/canary`): each target's last success and latency trend; nil when
    /// `canary:` is not set.
    public var canary: (@Sendable () -> JSONValue)?
    /// Language, texts and resources for the person's and responders' pages and texts.
    public var person = PersonSettings()
    /// The service-level objectives (`slo:`) of `GET /v1/reports/slo`, in milliseconds.
    public var serviceLevelTargets: [ServiceLevel: Millis] = [:]

    /// Creates an environment.
    public init(
        engine: SessionEngine, store: any SessionStore, hub: EventHub, auth: TokenAuthenticator, publicURL: String?,
        assetsDirectory: String?, readiness: @escaping @Sendable () async -> Readiness,
        metrics: @escaping @Sendable () async -> String, logger: Logger, tickets: StreamTickets
    ) {
        self.tickets = tickets
        self.engine = engine
        self.store = store
        self.hub = hub
        self.auth = auth
        self.publicURL = publicURL
        self.assetsDirectory = assetsDirectory
        self.readiness = readiness
        self.metrics = metrics
        self.logger = logger
    }
}

/// Builds the router of every route in docs/contract.md: one controller per concern, every route's access decided by
/// `AccessMiddleware` from `RouteAccess.table` before the route runs.
public enum VigilAPI {
    /// The largest request body accepted.
    public static let maxBody = 1 << 20

    /// The router.
    public static func router(_ env: APIEnvironment) -> Router<VigilContext> {
        let router = Router(context: VigilContext.self)
        router.add(middleware: ErrorMiddleware(logger: env.logger))
        router.add(
            middleware: AccessMiddleware(
                auth: env.auth, tickets: env.tickets, now: { [engine = env.engine] in engine.now() }))
        router.add(
            middleware: IdempotencyMiddleware(
                store: env.store as? any IdempotencyStore, now: { [engine = env.engine] in engine.now() },
                logger: env.logger))
        PublicRoutes(env: env, assets: Assets(directory: env.assetsDirectory)).add(to: router)
        let v1 = router.group("/v1")
        SessionsController(env: env).add(to: v1)
        PlansAPI.add(to: v1, env)
        FollowUpsController(env: env).add(to: v1)
        EventsController(env: env).add(to: v1)
        ConsoleRoutes.add(to: v1, env)
        SystemController(env: env).add(to: v1)
        ReloadRoute.add(to: v1, env)
        AuditController.add(to: v1, env)
        v1.get("/canary") { _, _ in VigilAPI.json(env.canary?() ?? ["enabled": false, "targets": .array([])]) }
        ServiceLevelRoutes.add(to: v1, env)
        return router
    }
}
