import Prometheus
import Synchronization
import VigilCore
import VigilDelivery

/// Prometheus metrics of the service, named as Prometheus asks: running totals are `_total` counters, durations
/// `_seconds` histograms, gauges only for levels. No label carries personal data: labels are event types, session
/// states, result words and the configured names of targets.
final class RuntimeMetrics: Sendable {
    /// Every metric family the service exports, with its type; `ops/prometheus` and `ops/grafana` use these names.
    static let families: [(name: String, type: String)] = [
        ("vigil_ready", "gauge"),
        ("vigil_watchdog_ok", "gauge"),
        ("vigil_open_sessions", "gauge"),
        ("vigil_sessions", "gauge"),
        ("vigil_scheduler_pending_deadlines", "gauge"),
        ("vigil_deadline_overdue_seconds", "gauge"),
        ("vigil_deadline_lateness_seconds", "histogram"),
        ("vigil_event_stream_clients", "gauge"),
        ("vigil_events_total", "counter"),
        ("vigil_delivery_attempts_total", "counter"),
        ("vigil_delivery_target_failures_total", "counter"),
        ("vigil_alarm_delivery_failures_total", "counter"),
        ("vigil_delivery_attempt_duration_seconds", "histogram"),
        ("vigil_delivery_in_flight_notifications", "gauge"),
        ("vigil_outbox_pending_notifications", "gauge"),
        ("vigil_outbox_overdue_seconds", "gauge"),
        ("vigil_clock_skew_seconds", "gauge"),
        ("vigil_deadline_to_notify_seconds", "histogram"),
        ("vigil_deadline_to_dispatch_seconds", "histogram"),
    ]

    let registry: PrometheusCollectorRegistry
    let ready: Gauge
    let watchdog: Gauge
    let open: Gauge
    let schedulerPending: Gauge
    let deadlineOverdue: Gauge
    let lateness: ValueHistogram
    let sseClients: Gauge
    let inFlight: Gauge
    let outboxPending: Gauge
    let outboxOverdue: Gauge
    let clockSkew: Gauge
    let eventCounters: [EventType: Counter]
    let byState: [SessionState: Gauge]
    let attempts: [TargetName: [AttemptRecord.Result: Counter]]
    let targetFailures: [TargetName: Counter]
    let alarmFailures: [TargetName: Counter]
    let attemptDuration: [TargetName: ValueHistogram]
    let serviceLevels: [ServiceLevel: ValueHistogram]
    /// Pairs each step with its first 2xx as the events are committed.
    let serviceLevelTracker = Mutex(ServiceLevelTracker())

    /// Seconds; deadlines should fire within milliseconds, and a second late is already an incident.
    static let latenessBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
    /// Seconds; a target's timeout defaults to 10 s.
    static let attemptBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    /// Seconds; the default objectives (`slo:`) are 5 s to notify and 10 s to dispatch, so both are bucket bounds.
    static let serviceLevelBuckets: [Double] = [0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120, 300]

    /// Registers every family; the labelled series of each configured target start at zero, so that `rate()` and
    /// `increase()` see the first failure.
    init(registry: PrometheusCollectorRegistry, targets: [TargetName]) {
        self.registry = registry
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: Self.descriptor(name, help))
        }
        ready = gauge("vigil_ready", "1 while /readyz answers ready, else 0")
        watchdog = gauge("vigil_watchdog_ok", "1 while every watchdog check passes, else 0")
        open = gauge("vigil_open_sessions", "Sessions not ended")
        schedulerPending = gauge("vigil_scheduler_pending_deadlines", "Deadlines armed in the scheduler")
        deadlineOverdue = gauge(
            "vigil_deadline_overdue_seconds",
            "How long the oldest deadline of an open session has been past without firing (0 when none)")
        lateness = registry.makeValueHistogram(
            descriptor: Self.descriptor(
                "vigil_deadline_lateness_seconds", "How late deadlines fired after their instant, in seconds"),
            buckets: Self.latenessBuckets)
        sseClients = gauge("vigil_event_stream_clients", "Open event streams")
        inFlight = gauge("vigil_delivery_in_flight_notifications", "Notifications on the wire right now")
        outboxPending = gauge(
            "vigil_outbox_pending_notifications", "Notifications waiting in the outbox to be delivered")
        outboxOverdue = gauge(
            "vigil_outbox_overdue_seconds",
            "How long the most overdue pending notification has waited past its attempt time (0 when none)")
        clockSkew = gauge(
            "vigil_clock_skew_seconds",
            "The system clock minus the monotonic time deadlines follow, in seconds (a stepped clock)")
        var counters: [EventType: Counter] = [:]
        for t in EventType.allCases {
            counters[t] = registry.makeCounter(
                descriptor: Self.descriptor("vigil_events_total", "Events logged, by type"),
                labels: [("type", t.rawValue)])
        }
        eventCounters = counters
        var states: [SessionState: Gauge] = [:]
        for st in SessionState.allCases where st != .ended {
            states[st] = registry.makeGauge(
                descriptor: Self.descriptor("vigil_sessions", "Open sessions, by state"),
                labels: [("state", st.rawValue)])
        }
        byState = states
        var attempts: [TargetName: [AttemptRecord.Result: Counter]] = [:]
        var failures: [TargetName: Counter] = [:]
        var durations: [TargetName: ValueHistogram] = [:]
        var alarms: [TargetName: Counter] = [:]
        for target in Set(targets) {
            alarms[target] = registry.makeCounter(
                descriptor: Self.descriptor(
                    "vigil_alarm_delivery_failures_total",
                    "System alarms (watchdog, mass lapse, unattended console) a target never took, retries spent"),
                labels: [("target", target.rawValue)])
            var results: [AttemptRecord.Result: Counter] = [:]
            for r in AttemptRecord.Result.allCases {
                results[r] = registry.makeCounter(
                    descriptor: Self.descriptor(
                        "vigil_delivery_attempts_total",
                        "Webhook attempts, by target and result (delivered, retry, failed)"),
                    labels: [("target", target.rawValue), ("result", r.rawValue)])
            }
            attempts[target] = results
            failures[target] = registry.makeCounter(
                descriptor: Self.descriptor(
                    "vigil_delivery_target_failures_total",
                    "Notifications a target failed for good (retries spent or refused)"),
                labels: [("target", target.rawValue)])
            durations[target] = registry.makeValueHistogram(
                descriptor: Self.descriptor(
                    "vigil_delivery_attempt_duration_seconds", "How long webhook attempts took, in seconds"),
                labels: [("target", target.rawValue)], buckets: Self.attemptBuckets)
        }
        self.attempts = attempts
        serviceLevels = [
            .deadlineToNotify: registry.makeValueHistogram(
                descriptor: Self.descriptor(
                    "vigil_deadline_to_notify_seconds",
                    "A notify step's scheduled time to its first 2xx, in seconds"),
                buckets: Self.serviceLevelBuckets),
            .deadlineToDispatch: registry.makeValueHistogram(
                descriptor: Self.descriptor(
                    "vigil_deadline_to_dispatch_seconds",
                    "A dispatch step's scheduled time (or a manual dispatch's request) to its first 2xx, in seconds"),
                buckets: Self.serviceLevelBuckets),
        ]
        targetFailures = failures
        alarmFailures = alarms
        attemptDuration = durations
    }

    /// A family's descriptor from its full name (`vigil_…`, suffixes included) and help text.
    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "vigil", metricName: String(name.dropFirst("vigil_".count)), unitName: "", helpText: help)
    }

    /// The exposition text of every family.
    func emitText() -> String {
        var buffer = [UInt8]()
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Counts committed events.
    func record(_ events: [StoredEvent]) {
        for e in events { eventCounters[e.type]?.increment() }
        let samples = serviceLevelTracker.withLock { t in events.flatMap { t.add($0) } }
        for s in samples { serviceLevels[s.level]?.record(Double(s.millis) / 1000) }
    }

    /// Counts one attempt's end. Only configured targets are counted, so the label set stays bounded.
    func record(_ attempt: AttemptRecord) {
        guard let results = attempts[attempt.target] else { return }
        if let millis = attempt.millis {
            results[attempt.result]?.increment()
            attemptDuration[attempt.target]?.record(Double(millis) / 1000)
        }
        if attempt.result == .failed { targetFailures[attempt.target]?.increment() }
    }

    /// Counts a system alarm that a target never took.
    func alarmGaveUp(_ target: TargetName) { alarmFailures[target]?.increment() }

    /// The levels, read at scrape time.
    struct Levels: Sendable {
        var ready: Bool
        var watchdogOK: Bool
        var sessions: [SessionState]
        var schedulerPending: Int
        var lateness: [Int64]
        var deadlineOverdue: Millis?
        var sseClients: Int
        var inFlight: Int
        var outboxPending: Int?
        var outboxOverdue: Millis?
        var clockSkew: Millis
    }

    /// Sets every gauge and records the lateness drained since the last scrape.
    func update(_ l: Levels) {
        ready.set(to: l.ready ? 1 : 0)
        watchdog.set(to: l.watchdogOK ? 1 : 0)
        open.set(to: Double(l.sessions.count))
        var count: [SessionState: Int] = [:]
        for s in l.sessions { count[s, default: 0] += 1 }
        for (state, gauge) in byState { gauge.set(to: Double(count[state] ?? 0)) }
        schedulerPending.set(to: Double(l.schedulerPending))
        for ms in l.lateness { lateness.record(Double(ms) / 1000) }
        deadlineOverdue.set(to: Self.seconds(l.deadlineOverdue))
        sseClients.set(to: Double(l.sseClients))
        inFlight.set(to: Double(l.inFlight))
        if let pending = l.outboxPending { outboxPending.set(to: Double(pending)) }
        outboxOverdue.set(to: Self.seconds(l.outboxOverdue))
        clockSkew.set(to: Double(l.clockSkew.value) / 1000)
    }

    /// A non-negative duration in seconds; nil and negative are 0.
    static func seconds(_ m: Millis?) -> Double {
        guard let m, m.value > 0 else { return 0 }
        return Double(m.value) / 1000
    }
}
