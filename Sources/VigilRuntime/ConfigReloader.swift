import Foundation
import Logging
import Synchronization
import VigilCore
import VigilDelivery
import VigilHTTP

/// Reads the configuration file again (`SIGHUP`, `vigil config reload`, `POST /v1/system/reload`) and puts what may
/// change without a restart in force: tokens, targets, policies and routes, plus whatever the parts registered
/// with `onReload` read (resources, texts, canaries).
///
/// A file `vigil config check` refuses is refused whole, and so is one that would leave an open session's policy
/// naming a target it no longer has: the running configuration stays, and `config.reload_failed` and a log line
/// say why. Open sessions keep the policy they started with (each holds its own copy) until they end. A token that
/// is removed, or whose secret or role changes, is refused from the next request on, and its open event streams are
/// closed at once. Reloads run one at a time, in the order they were asked for.
actor ConfigReloader {
    /// The configuration in force, read without waiting for a reload in progress.
    nonisolated let current: Mutex<VigilConfig>
    private let engine: SessionEngine
    private let worker: OutboxWorker
    private let auth: TokenAuthenticator
    private let hub: EventHub
    private let store: any SessionRepository
    private let logger: Logger
    private var appliers: [@Sendable (VigilConfig) async -> Void] = []
    private var tail: Task<ConfigReloadOutcome, Never>?

    init(
        config: VigilConfig, engine: SessionEngine, worker: OutboxWorker, auth: TokenAuthenticator, hub: EventHub,
        store: any SessionRepository, logger: Logger
    ) {
        self.current = Mutex(config)
        self.engine = engine
        self.worker = worker
        self.auth = auth
        self.hub = hub
        self.store = store
        self.logger = logger
    }

    /// The SHA-256 of the file in force (`built-in` without one), for `/readyz`.
    nonisolated var sha256: String { current.withLock { $0.sha256 } ?? "built-in" }

    /// Registers a part that takes its settings from every configuration put in force, after the tokens, targets,
    /// policies and routes (resources, texts and canaries hang here).
    func onReload(_ apply: @escaping @Sendable (VigilConfig) async -> Void) { appliers.append(apply) }

    /// Reads the file again on behalf of `by` (a token's name, or `SIGHUP`), after any reload already asked for.
    func reload(by: String) async -> ConfigReloadOutcome {
        let previous = tail
        let next = Task { () -> ConfigReloadOutcome in
            _ = await previous?.value
            return await self.perform(by: by)
        }
        tail = next
        return await next.value
    }

    private func perform(by: String) async -> ConfigReloadOutcome {
        let running = current.withLock { $0 }
        guard let path = running.sourceFile else {
            return await refuse("vigil serve was started without --config: there is no file to read again", by, running)
        }
        let next: VigilConfig
        do {
            next = try ConfigLoader.load(path: path)
        } catch let e as ConfigErrors {
            let first = e.issues.first.map { "\(path):\($0.line.map(String.init) ?? "-"): \($0.message)" }
            return await refuse(first ?? "\(path): refused", by, running)
        } catch {
            return await refuse("\(path): \(error)", by, running)
        }
        if let gap = await engine.policyGaps(against: Set(next.targets.keys)).first {
            return await refuse(
                "open session \(gap.session) keeps policy \"\(gap.policy)\", which names target \"\(gap.target)\": "
                    + "the file no longer has it (keep the target until that session ends)", by, running)
        }
        let revoked = auth.replace(next.tokens)
        let closed = hub.close(owners: revoked)
        await engine.setPolicies(next.policies)
        await engine.setRouting(next.routes, targets: Set(next.targets.keys))
        worker.setTargets(next.targets)
        current.withLock { $0 = next }
        for apply in appliers { await apply(next) }
        let sha = next.sha256 ?? ""
        let restartNeeded = Self.restartNeeded(running, next)
        logger.notice(
            "configuration reloaded",
            metadata: [
                "sha256": "\(sha)", "by": "\(by)", "tokens": "\(next.tokens.count)",
                "tokens_revoked": "\(revoked.count)",
                "streams_closed": "\(closed)", "targets": "\(next.targets.count)", "policies": "\(next.policies.count)",
            ])
        if !restartNeeded.isEmpty {
            logger.warning(
                "changed settings that take effect only at a restart",
                metadata: ["settings": "\(restartNeeded.joined(separator: ","))"])
        }
        await record(EventData.ConfigReloaded(sha256: sha, restartNeeded: restartNeeded))
        return .reloaded(sha256: sha, restartNeeded: restartNeeded)
    }

    private func refuse(_ message: String, _ by: String, _ running: VigilConfig) async -> ConfigReloadOutcome {
        // One line: a YAML parser's error quotes the file after its first line, which belongs in `config check`.
        let why = message.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? message
        logger.error(
            "configuration reload refused; the running configuration stays",
            metadata: ["by": "\(by)", "error": "\(why)", "sha256": "\(running.sha256 ?? "built-in")"])
        await record(EventData.ConfigReloadFailed(error: why, runningSha256: running.sha256))
        return .refused(why)
    }

    private func record(_ payload: some EventPayload) async {
        do {
            _ = try await store.commit(
                CommitBatch(
                    session: nil, expectedVersion: nil, sessionID: nil, events: [NewEvent(payload, at: engine.now())],
                    outbox: [], outboxUpdates: []))
        } catch {
            logger.error("the reload could not be recorded on the timeline", metadata: ["error": "\(error)"])
        }
    }

    /// The settings that differ between two configurations but are read only at start.
    static func restartNeeded(_ a: VigilConfig, _ b: VigilConfig) -> [String] {
        let fixed: [(String, (VigilConfig) -> String)] = [
            ("listen", { "\($0.host):\($0.port)" }),
            ("storage", { "\($0.sqlitePath) \($0.postgres?.url ?? "") \($0.postgres?.caFile ?? "")" }),
            ("encryption", { "\($0.keyFile ?? "") \($0.keyEnv ?? "")" }),
            ("public_url", { $0.publicURL ?? "" }),
            ("retention", { "\($0.retentionDays)" }),
            ("heartbeat", { "\($0.heartbeatURL ?? "") \($0.heartbeatInterval.value)" }),
            ("scheduler", { "\($0.sweepInterval.value)" }),
            ("watchdog", { "\($0.watchdogDeadlineSlack.value) \($0.watchdogOutboxSlack.value)" }),
            ("log_level", { $0.logLevel }),
            ("default_country", { "\(String(describing: $0.defaultCountry))" }),
            ("unattended_after_s", { "\($0.unattendedAfter.value)" }),
            ("alarm_targets", { ($0.configuredAlarmTargets ?? []).map(\.rawValue).joined(separator: ",") }),
            ("mass_lapse", { "\($0.massLapse) \(($0.massLapseNotify ?? []).map(\.rawValue))" }),
            ("sms", { $0.sms == nil ? "" : "on" }),
        ]
        return fixed.filter { $0.1(a) != $0.1(b) }.map(\.0)
    }
}
