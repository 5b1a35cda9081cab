import Logging
import Synchronization
import VigilCore

/// Delivers the outbox: picks due notifications, signs and sends them through libcurl, retries with backoff,
/// fails over along the targets, and reports each target's end to the engine, which records it durably.
public final class OutboxWorker: Sendable {
    private let store: any SessionStore
    private let engine: SessionEngine
    private let client: CurlClient
    private let targets: [String: Target]
    private let clock: any WallClock
    private let logger: Logger
    private let poll: Millis
    private let maxInFlight: Int
    private let inFlight = Mutex<Set<NotificationID>>([])
    private let signal: AsyncStream<Void>.Continuation
    private let stream: AsyncStream<Void>
    private let lastPump = Atomic<Int64>(CurlClient.monotonicMillis())
    private let counters = Mutex<DeliveryCounters>(DeliveryCounters())
    private let claim: (@Sendable (Timestamp, Int) async throws -> [OutboxItem])?
    private let reports = Mutex<PendingReports>(PendingReports())

    private struct PendingReports {
        var queue:
            [(
                item: OutboxItem, outcome: DeliveryOutcome,
                waiter: CheckedContinuation<Result<Session, any Error>, Never>
            )] =
                []
        var draining = false
    }
    private let hotline: Hotline
    private let onAttempt: (@Sendable (AttemptRecord) -> Void)?

    /// Delivery totals since start, for metrics.
    public struct DeliveryCounters: Sendable {
        /// Attempts made.
        public var attempts = 0
        /// Notifications a target accepted.
        public var delivered = 0
        /// Targets that failed their attempts.
        public var targetFailures = 0
        /// Attempt latency in milliseconds, last 1,024.
        public var recentLatencies: [Int64] = []
    }

    /// Creates a worker.
    public init(
        store: any SessionStore, engine: SessionEngine, client: CurlClient, targets: [String: Target],
        clock: any WallClock, logger: Logger, poll: Millis = Millis(100), maxInFlight: Int = 512,
        claim: (@Sendable (Timestamp, Int) async throws -> [OutboxItem])? = nil, hotline: Hotline = Hotline(),
        onAttempt: (@Sendable (AttemptRecord) -> Void)? = nil
    ) {
        self.hotline = hotline
        self.claim = claim
        self.onAttempt = onAttempt
        self.store = store
        self.engine = engine
        self.client = client
        self.targets = targets
        self.clock = clock
        self.logger = logger
        self.poll = poll
        self.maxInFlight = maxInFlight
        (stream, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks the worker to look at the outbox now.
    public func wake() { signal.yield() }

    /// When the worker last looked at the outbox, by the monotonic clock in milliseconds.
    public var lastPumpTick: Int64 { lastPump.load(ordering: .relaxed) }

    /// Delivery totals.
    public var totals: DeliveryCounters { counters.withLock { $0 } }

    /// Notifications being sent right now (for metrics).
    public var sending: Int { inFlight.withLock { $0.count } }

    /// Runs until the task is cancelled.
    public func run() async {
        let ticker = Task { [signal, poll] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(poll.value))
                signal.yield()
            }
        }
        defer { ticker.cancel() }
        await withDiscardingTaskGroup { group in
            for await _ in stream {
                if Task.isCancelled { break }
                lastPump.store(CurlClient.monotonicMillis(), ordering: .relaxed)
                let due: [OutboxItem]
                do {
                    // With several instances, due rows are claimed under a lease, so one instance sends each; claim
                    // no more than there is room for now, or the rest would sit leased to this instance unsent.
                    if let claim {
                        let room = maxInFlight - inFlight.withLock { $0.count }
                        due = room > 0 ? try await claim(clock.now(), room) : []
                    } else {
                        due = try await store.dueNotifications(at: clock.now(), limit: maxInFlight)
                    }
                } catch {
                    logger.error("outbox read failed", metadata: ["error": "\(error)"])
                    continue
                }
                let claimed = due.filter { item in
                    inFlight.withLock { set -> Bool in
                        if set.count >= maxInFlight || set.contains(item.id) { return false }
                        set.insert(item.id)
                        return true
                    }
                }
                if claimed.isEmpty { continue }
                // Count every claimed attempt before sending, all in one transaction: a crash mid-flight must not
                // grant extra attempts, and one fsync serves the whole batch.
                let now = clock.now()
                let updates = claimed.map { item in
                    OutboxUpdate(
                        id: item.id, status: .pending, targetIndex: item.targetIndex, attempts: item.attempts + 1,
                        nextAttemptAt: now + (targets[item.targets[item.targetIndex]]?.timeout ?? .zero) + Millis(1000),
                        claim: true)
                }
                let stillPending: [Bool]
                do {
                    stillPending = try await store.recordAttempts(updates)
                } catch {
                    logger.error("outbox write failed; will retry", metadata: ["error": "\(error)"])
                    inFlight.withLock { set in for item in claimed { set.remove(item.id) } }
                    continue
                }
                for (item, pending) in zip(claimed, stillPending) {
                    guard pending else {
                        inFlight.withLock { _ = $0.remove(item.id) }
                        continue
                    }
                    group.addTask {
                        await self.attempt(item)
                        self.inFlight.withLock { _ = $0.remove(item.id) }
                        self.wake()
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// Makes one attempt on the notification's current target and records what follows.
    func attempt(_ item: OutboxItem) async {
        let index = item.targetIndex
        let name = item.targets[index]
        let webhookID = item.webhookIDs[index]
        let attempt = item.attempts + 1
        let meta: Logger.Metadata = [
            "session": "\(item.sessionID)", "notification": "\(item.id)", "type": "\(item.type.rawValue)",
            "target": "\(name)", "webhook_id": "\(webhookID)", "attempt": "\(attempt)",
        ]
        guard let target = targets[name] else {
            logger.error("notification names a target that is not configured", metadata: meta)
            await report(item, .targetFailed(targetIndex: index, reason: "target not configured", attempts: attempt))
            return
        }
        let body: [UInt8]
        let contentType = target.format.contentType
        do {
            body = try Self.render(
                item.body, type: item.type, for: target, identifier: webhookID, hotline: hotline)
        } catch {
            // Rendering is deterministic: a retry cannot help, and an empty signed body must never be sent.
            logger.critical("the notification's body cannot be rendered for this target", metadata: meta)
            onAttempt?(AttemptRecord(target: name, result: .failed, millis: nil))
            await report(
                item,
                .targetFailed(targetIndex: index, reason: "the body could not be rendered: \(error)", attempts: attempt)
            )
            return
        }
        let ts = clock.now().unixSeconds
        let spec = HTTPRequestSpec(
            url: target.url,
            headers: [("Content-Type", contentType)] + target.signer.headers(id: webhookID, timestamp: ts, body: body),
            body: body, timeoutMillis: Int(target.timeout.value), tls: target.tls,
            proxy: target.proxy)
        let started = CurlClient.monotonicMillis()
        let result = await client.perform(spec)
        let elapsed = CurlClient.monotonicMillis() - started
        let verdict = RetryPlanner.verdict(
            result, attempt: attempt, settings: target.retry, jitter: Double.random(in: 0...1), now: clock.now())
        counters.withLock {
            $0.attempts += 1
            $0.recentLatencies.append(elapsed)
            if $0.recentLatencies.count > 1024 { $0.recentLatencies.removeFirst(256) }
        }
        var m = meta
        m["status"] = "\(result.status)"
        m["ms"] = "\(elapsed)"
        switch verdict {
        case .delivered(let status):
            counters.withLock { $0.delivered += 1 }
            onAttempt?(AttemptRecord(target: name, result: .delivered, millis: elapsed))
            logger.info("delivered", metadata: m)
            await report(item, .delivered(targetIndex: index, status: status, attempts: attempt))
        case .retry(let after, let reason):
            onAttempt?(AttemptRecord(target: name, result: .retry, millis: elapsed))
            m["retry_in_ms"] = "\(after.value)"
            m["reason"] = "\(reason)"
            logger.warning("attempt failed; retrying", metadata: m)
            do {
                _ = try await store.recordAttempt(
                    OutboxUpdate(
                        id: item.id, status: .pending, targetIndex: index, attempts: attempt,
                        nextAttemptAt: clock.now() + after))
            } catch {
                logger.error("outbox write failed", metadata: m)
            }
        case .giveUp(let reason):
            counters.withLock { $0.targetFailures += 1 }
            onAttempt?(AttemptRecord(target: name, result: .failed, millis: elapsed))
            m["reason"] = "\(reason)"
            logger.error("target failed", metadata: m)
            await report(item, .targetFailed(targetIndex: index, reason: reason, attempts: attempt))
        }
    }

    /// The bytes `target` receives for a stored notification: only the fields it is configured for, in its format,
    /// the same on every attempt.
    public static func render(
        _ stored: [UInt8], type: EventType, for target: Target, identifier: String, hotline: Hotline
    ) throws -> [UInt8] {
        let projected = try DispatchPayload.json(stored, type: type, fields: target.fields, hotline: hotline)
        switch target.format {
        case .json:
            return projected
        case .cap:
            // From the stored envelope: the renderer applies the fields itself and needs the engine's facts.
            return try CAPRenderer.render(
                envelope: try WebhookFields.project(stored, type: type, fields: target.fields), identifier: identifier,
                restriction: target.name, hotline: hotline, fields: target.fields)
        case .eido:
            return try EIDORenderer.render(
                envelope: try WebhookFields.project(stored, type: type, fields: target.fields), hotline: hotline,
                fields: target.fields)
        }
    }

    /// Records a target's end through the engine. Results that arrive together are recorded together (one engine
    /// turn, one group commit); each caller still waits until its own result is durable, so a row is never left
    /// in flight unrecorded.
    private func report(_ item: OutboxItem, _ outcome: DeliveryOutcome) async {
        let result: Result<Session, any Error> = await withCheckedContinuation { cont in
            let start = reports.withLock { r -> Bool in
                r.queue.append((item, outcome, cont))
                if r.draining { return false }
                r.draining = true
                return true
            }
            if start { Task { await self.drainReports() } }
        }
        if case .failure(let error) = result {
            // The row stays pending and is tried again with the same webhook id.
            logger.error(
                "could not record a delivery result",
                metadata: ["session": "\(item.sessionID)", "notification": "\(item.id)", "error": "\(error)"])
        }
    }

    private func drainReports() async {
        while true {
            let work = reports.withLock { r in
                let w = r.queue
                r.queue = []
                if w.isEmpty { r.draining = false }
                return w
            }
            if work.isEmpty { return }
            let results = await engine.executeMany(work.map { ($0.item.sessionID, .delivery($0.item, $0.outcome)) })
            for (w, r) in zip(work, results) { w.waiter.resume(returning: r) }
        }
    }

    /// Sends a signed notification straight to a target, outside the outbox: `test.ping` for
    /// `vigil targets test`, and system alarms when the outbox itself may be what failed.
    public static func ping(
        _ target: Target, client: CurlClient, at now: Timestamp, ids: IDGenerator = .system,
        type: EventType = .testPing, data: [String: JSONValue] = [:], hotline: Hotline = Hotline()
    ) async throws -> (webhookID: String, result: HTTPResult) {
        let webhookID = ids.webhookID()
        var payload = data
        payload["target"] = .string(target.name)
        if type == .testPing { payload["message"] = "test notification from Vigil" }
        let envelope = WebhookEnvelope(type: type, timestamp: now, data: .object(payload))
        let json = try VigilJSON.encode(envelope)
        let body = try render(json, type: type, for: target, identifier: webhookID, hotline: hotline)
        let spec = HTTPRequestSpec(
            url: target.url,
            headers: [("Content-Type", target.format.contentType)]
                + target.signer.headers(id: webhookID, timestamp: now.unixSeconds, body: body),
            body: body, timeoutMillis: Int(target.timeout.value), tls: target.tls,
            proxy: target.proxy)
        return (webhookID, await client.perform(spec))
    }
}
