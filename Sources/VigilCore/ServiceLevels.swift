/// The service levels of `GET /v1/reports/slo` and of the `vigil_deadline_to_*_seconds` histograms, measured from
/// the event log, so that the report and the metrics agree.
public enum ServiceLevel: String, CaseIterable, Hashable, Sendable {
    /// A notify step's scheduled time → the first 2xx of any of its targets.
    case deadlineToNotify = "deadline_to_notify"
    /// A dispatch step's scheduled time, or a manual or texted dispatch's request → the first 2xx of a target.
    case deadlineToDispatch = "deadline_to_dispatch"
    /// A dispatch's first 2xx → the partner's first `accepted` report.
    case dispatchToAccepted = "dispatch_to_accepted"
}

/// One measured interval.
public struct ServiceLevelSample: Hashable, Sendable {
    /// What was measured.
    public var level: ServiceLevel
    /// When the interval began (the report's window selects by it).
    public var start: Timestamp
    /// When it ended.
    public var end: Timestamp
    /// For `dispatch_to_accepted`: the time the target had to accept (`accept_timeout_s` after its 2xx), if any.
    public var acceptBy: Timestamp?

    /// The interval in milliseconds (never negative).
    public var millis: Int64 { max(0, (end - start).value) }
}

/// Follows the log in order and yields each interval when it ends. Only what is still waiting for its end is kept,
/// and a session's waits are dropped when it ends.
public struct ServiceLevelTracker: Sendable {
    struct Waiting: Sendable {
        var session: SessionID
        var start: Timestamp
    }

    struct OpenDispatch: Sendable {
        var start: Timestamp
        var deliveredAt: Timestamp?
        var acceptBy: Timestamp?
        var accepted = false
    }

    /// Notify steps waiting for their first 2xx, by the event's `seq`.
    private var notifySteps: [Int64: Waiting] = [:]
    /// The step each webhook id belongs to.
    private var stepOfWebhook: [WebhookID: Int64] = [:]
    /// The live dispatch of each session.
    private var dispatches: [SessionID: OpenDispatch] = [:]

    /// An empty tracker.
    public init() {}

    /// How many waits it holds (bounded by the open sessions' steps).
    public var waiting: Int { notifySteps.count + dispatches.count }

    /// Reads the next event of the log; returns the intervals it ends.
    public mutating func add(_ e: StoredEvent) -> [ServiceLevelSample] {
        guard let sid = e.sessionID else { return [] }
        switch e.type {
        case .escalationStep:
            guard let step = e.data(as: EventData.EscalationStep.self), step.action == .notify, step.skipped == nil,
                let ids = step.webhookIDs, !ids.isEmpty
            else { return [] }
            notifySteps[e.seq] = Waiting(session: sid, start: step.scheduledAt)
            for id in ids { stepOfWebhook[id] = e.seq }
        case .deliverySucceeded:
            guard let d = e.data(as: EventData.DeliverySucceeded.self),
                let seq = stepOfWebhook.removeValue(forKey: d.webhookID),
                let w = notifySteps.removeValue(forKey: seq)
            else { return [] }
            return [ServiceLevelSample(level: .deadlineToNotify, start: w.start, end: e.at)]
        case .dispatchRequested:
            guard let d = e.data(as: EventData.DispatchRequested.self), !d.targets.isEmpty else { return [] }
            // A ladder step fires `late_ms` after its scheduled time; a manual or texted request has none.
            dispatches[sid] = OpenDispatch(start: e.at - d.lateMs)
        case .dispatchAccepted:
            guard let d = e.data(as: EventData.DispatchAccepted.self), d.afterCancel == nil,
                var open = dispatches[sid], open.deliveredAt == nil
            else { return [] }
            open.deliveredAt = e.at
            open.acceptBy = d.acceptBy
            dispatches[sid] = open
            return [ServiceLevelSample(level: .deadlineToDispatch, start: open.start, end: e.at)]
        case .dispatchStatus:
            guard e.data(as: EventData.DispatchStatusReported.self)?.status == .accepted, var open = dispatches[sid],
                !open.accepted, let delivered = open.deliveredAt
            else { return [] }
            open.accepted = true
            dispatches[sid] = open
            return [
                ServiceLevelSample(level: .dispatchToAccepted, start: delivered, end: e.at, acceptBy: open.acceptBy)
            ]
        case .sessionEnded:
            dispatches[sid] = nil
            let ended = notifySteps.filter { $0.value.session == sid }.map(\.key)
            if !ended.isEmpty {
                for k in ended { notifySteps[k] = nil }
                stepOfWebhook = stepOfWebhook.filter { notifySteps[$0.value] != nil }
            }
        default:
            break
        }
        return []
    }
}

/// The figures of one service level over a window.
public struct ServiceLevelFigures: Hashable, Sendable {
    /// The intervals, in milliseconds.
    public var millis: [Int64] = []
    /// How many of them were within their target.
    public var within = 0
    /// How many had a target at all.
    public var targeted = 0

    /// The nearest-rank percentile (`p` in 0...100) in milliseconds: the smallest value with at least `p` percent
    /// of the values at or below it.
    public static func percentile(_ sorted: [Int64], _ p: Int) -> Int64? {
        guard !sorted.isEmpty else { return nil }
        let rank = max(1, (p * sorted.count + 99) / 100)
        return sorted[min(sorted.count, rank) - 1]
    }

    /// `{"count", "p50_s", "p90_s", "p99_s", "max_s", "within_target"}`; null figures when nothing was measured.
    public var json: JSONValue {
        let sorted = millis.sorted()
        func seconds(_ ms: Int64?) -> JSONValue { ms.map { .double(Double($0) / 1000) } ?? .null }
        return [
            "count": .int(Int64(sorted.count)), "p50_s": seconds(Self.percentile(sorted, 50)),
            "p90_s": seconds(Self.percentile(sorted, 90)), "p99_s": seconds(Self.percentile(sorted, 99)),
            "max_s": seconds(sorted.last),
            "within_target": targeted > 0 ? .double(Double(within) / Double(targeted)) : .null,
        ]
    }
}

/// `GET /v1/reports/slo`: each service level over `[from, to)` against the configured targets.
public struct ServiceLevelReport: Hashable, Sendable {
    /// The figures by level.
    public var levels: [ServiceLevel: ServiceLevelFigures] = [:]

    /// An empty report.
    public init() {}

    /// Adds one interval if it began inside the window. `targets` are the configured objectives in milliseconds;
    /// `dispatch_to_accepted` is held to its target's `accept_timeout_s`, when it sets one.
    public mutating func add(
        _ s: ServiceLevelSample, from: Timestamp?, to: Timestamp?, targets: [ServiceLevel: Millis]
    ) {
        if let from, s.start < from { return }
        if let to, s.start >= to { return }
        var f = levels[s.level] ?? ServiceLevelFigures()
        f.millis.append(s.millis)
        if s.level == .dispatchToAccepted {
            if let by = s.acceptBy {
                f.targeted += 1
                if s.end <= by { f.within += 1 }
            }
        } else if let target = targets[s.level] {
            f.targeted += 1
            if s.millis <= target.value { f.within += 1 }
        }
        levels[s.level] = f
    }

    /// The report as the API answers it.
    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        for level in ServiceLevel.allCases { o[level.rawValue] = (levels[level] ?? ServiceLevelFigures()).json }
        return .object(o)
    }
}

extension SessionStore {
    /// Reads the event log in pages and measures every interval that began in `[from, to)`; an interval's end is
    /// looked for up to an hour past `to`.
    public func serviceLevels(from: Timestamp?, to: Timestamp?, targets: [ServiceLevel: Millis]) async throws
        -> ServiceLevelReport
    {
        var report = ServiceLevelReport()
        var tracker = ServiceLevelTracker()
        var after: Int64 = 0
        while true {
            let page = try await events(after: after, limit: 5000)
            guard let last = page.last else { break }
            for e in page {
                for s in tracker.add(e) { report.add(s, from: from, to: to, targets: targets) }
            }
            after = last.seq
            if let to, last.at >= to + .seconds(3600) { break }
        }
        return report
    }
}
