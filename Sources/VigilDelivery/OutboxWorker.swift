import Logging
import Synchronization
import VigilCore

/// Delivers the outbox: claims due notifications, signs and sends them through the transport (libcurl), and does
/// what `DeliveryMachine` decides of each result: retry later, or report the target's end to the engine, which
/// records it durably (and fails over to the next target).
public final class OutboxWorker: Sendable {
    private let store: any OutboxQueue
    private let engine: SessionEngine
    private let client: any WebhookTransport
    /// The configured targets and the machine over them, swapped whole by a configuration reload.
    private let current: Mutex<DeliveryMachine>
    private var machine: DeliveryMachine { current.withLock { $0 } }
    private let clock: any WallClock
    private let logger: Logger
    private let poll: Millis
    private let maxInFlight: Int
    private let inFlight = Mutex<Set<NotificationID>>([])
    private let signal: WakeSignal
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
        store: any OutboxQueue, engine: SessionEngine, client: any WebhookTransport, targets: [TargetName: Target],
        clock: any WallClock, logger: Logger, poll: Millis = Millis(100), maxInFlight: Int = 512,
        claim: (@Sendable (Timestamp, Int) async throws -> [OutboxItem])? = nil, hotline: Hotline = Hotline(),
        signal: WakeSignal = WakeSignal(), onAttempt: (@Sendable (AttemptRecord) -> Void)? = nil
    ) {
        self.hotline = hotline
        self.claim = claim
        self.onAttempt = onAttempt
        self.store = store
        self.engine = engine
        self.client = client
        self.current = Mutex(DeliveryMachine(targets: targets))
        self.clock = clock
        self.logger = logger
        self.poll = poll
        self.maxInFlight = maxInFlight
        self.signal = signal
    }

    /// Replaces the targets (a configuration reload): the next attempt of every notification, retries included,
    /// goes to the target as now configured.
    public func setTargets(_ targets: [TargetName: Target]) {
        current.withLock { $0 = DeliveryMachine(targets: targets) }
    }

    /// Asks the worker to look at the outbox now.
    public func wake() { signal.wake() }

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
                signal.wake()
            }
        }
        defer { ticker.cancel() }
        await withDiscardingTaskGroup { group in
            for await _ in signal.stream {
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
                let updates = claimed.map { machine.claim($0, at: now) }
                let stillPending: [Bool]
                do {
                    stillPending = try await store.recordAttempts(updates)
                } catch {
                    logger.error("outbox write failed; will retry", metadata: ["error": "\(error)"])
                    inFlight.withLock { set in for item in claimed { set.remove(item.id) } }
                    continue
                }
                for (i, pending) in stillPending.enumerated() where claimed.indices.contains(i) {
                    var item = claimed[i]
                    guard pending else {
                        inFlight.withLock { _ = $0.remove(item.id) }
                        continue
                    }
                    // The claim started the target's failover clock, if this is its first attempt.
                    item.targetSince = updates[i].targetSince
                    group.addTask { [item] in
                        await self.attempt(item)
                        self.inFlight.withLock { _ = $0.remove(item.id) }
                        self.wake()
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// Makes one attempt on the notification's current target and does what the machine decides of it.
    func attempt(_ item: OutboxItem) async {
        var meta: Logger.Metadata = [
            "session": "\(item.sessionID)", "notification": "\(item.id)", "type": "\(item.type.rawValue)",
            "target_index": "\(item.targetIndex)", "attempt": "\(item.attempts + 1)",
        ]
        // One configuration for the whole attempt, even if a reload lands in the middle of it.
        let machine = self.machine
        let name: TargetName
        let webhookID: WebhookID
        let timeout: Millis
        switch machine.start(item, at: clock.now()) {
        case .report(let outcome):
            if case .targetFailed(_, let reason, _) = outcome { meta["reason"] = "\(reason)" }
            logger.error("the notification cannot go to its current target; the next one takes over", metadata: meta)
            await report(item, outcome)
            return
        case .send(let targetName, let id, _, let t):
            (name, webhookID, timeout) = (targetName, id, t)
        }
        meta["target"] = "\(name)"
        meta["webhook_id"] = "\(webhookID)"
        guard let target = machine.targets[name] else { return }
        let body: [UInt8]
        do {
            body = try Self.render(
                item.body, type: item.type, for: target, identifier: webhookID, hotline: hotline,
                origin: TwilioMessage.Origin(
                    session: item.sessionID, notification: item.id, type: item.type, target: name))
        } catch {
            logger.critical("the notification's body cannot be rendered for this target", metadata: meta)
            onAttempt?(AttemptRecord(target: name, result: .failed, millis: nil))
            await report(item, machine.renderFailed(item, error: "\(error)"))
            return
        }
        let started = CurlClient.monotonicMillis()
        var request = target.request(body: body, webhookID: webhookID, at: clock.now())
        request.timeoutMillis = Int(clamping: max(1, timeout.value))
        let result = await client.perform(request)
        let elapsed = CurlClient.monotonicMillis() - started
        counters.withLock {
            $0.attempts += 1
            $0.recentLatencies.append(elapsed)
            if $0.recentLatencies.count > 1024 { $0.recentLatencies.removeFirst(256) }
        }
        var m = meta
        m["status"] = "\(result.status)"
        m["ms"] = "\(elapsed)"
        switch machine.settle(item, result: result, jitter: Double.random(in: 0...1), now: clock.now()) {
        case .report(let outcome):
            if case .targetFailed(_, let reason, _) = outcome {
                counters.withLock { $0.targetFailures += 1 }
                onAttempt?(AttemptRecord(target: name, result: .failed, millis: elapsed))
                m["reason"] = "\(reason)"
                logger.error("target failed", metadata: m)
            } else {
                counters.withLock { $0.delivered += 1 }
                onAttempt?(AttemptRecord(target: name, result: .delivered, millis: elapsed))
                logger.info("delivered", metadata: m)
            }
            await report(item, outcome)
        case .retry(let update, let reason):
            onAttempt?(AttemptRecord(target: name, result: .retry, millis: elapsed))
            m["retry_in_ms"] = "\((update.nextAttemptAt - clock.now()).value)"
            m["reason"] = "\(reason)"
            logger.warning("attempt failed; retrying", metadata: m)
            do {
                _ = try await store.recordAttempt(update)
            } catch {
                logger.error("outbox write failed", metadata: m)
            }
        }
    }

    /// The bytes `target` receives for a stored notification: only the fields it is configured for, in its format,
    /// the same on every attempt.
    public static func render(
        _ stored: [UInt8], type: EventType, for target: Target, identifier: WebhookID, hotline: Hotline,
        origin: TwilioMessage.Origin? = nil
    ) throws -> [UInt8] {
        switch target.format {
        case .twilio:
            return try TwilioMessage.form(stored, type: type, target: target, origin: origin)
        case .json:
            return try DispatchPayload.json(stored, type: type, fields: target.fields, hotline: hotline)
        case .cap:
            // From the stored envelope, parsed once: the renderer applies the fields itself and needs the engine's
            // facts, which a dispatch message carries as a typed brief.
            return try CAPRenderer.render(
                envelope: try WebhookFields.projected(stored, type: type, fields: target.fields),
                identifier: identifier, restriction: target.name.rawValue, hotline: hotline,
                fields: target.fields)
        case .eido:
            return try EIDORenderer.render(
                envelope: try WebhookFields.projected(stored, type: type, fields: target.fields), hotline: hotline,
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
        _ target: Target, client: any WebhookTransport, at now: Timestamp, ids: IDGenerator = .system,
        type: EventType = .testPing, data: [String: JSONValue] = [:], hotline: Hotline = Hotline()
    ) async throws -> (webhookID: WebhookID, result: HTTPResult) {
        let webhookID = ids.webhookID()
        let body = try directBody(target, type: type, data: data, at: now, webhookID: webhookID, hotline: hotline)
        return (webhookID, await client.perform(target.request(body: body, webhookID: webhookID, at: now)))
    }

    /// The bytes of a notification sent straight to a target, outside the outbox, in its format: made once, the
    /// same on every retry.
    public static func directBody(
        _ target: Target, type: EventType, data: [String: JSONValue], at now: Timestamp, webhookID: WebhookID,
        hotline: Hotline = Hotline()
    ) throws -> [UInt8] {
        var payload = data
        payload["target"] = .id(target.name)
        if type == .testPing { payload["message"] = "test notification from Vigil" }
        let envelope = WebhookEnvelope(type: type, timestamp: now, data: .object(payload))
        return try render(
            try VigilJSON.encode(envelope), type: type, for: target, identifier: webhookID, hotline: hotline)
    }
}
