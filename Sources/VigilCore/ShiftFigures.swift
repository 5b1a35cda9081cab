/// What happened on a shift, read from the event log: a row per ended session for the history view, and the
/// figures the console's dashboard draws. Counts, durations and names of staff only: no personal data.
public enum ShiftFigures {
    /// Upper bounds (seconds) of the deadline → dispatch histogram's buckets; the last bucket is open.
    public static let dispatchBuckets: [Int64] = [30, 60, 120, 180, 300, 600]
    /// The most events one figures request reads.
    public static let scanLimit = 200_000

    /// The events from `since` on, found by a binary search over `seq` (the log is in commit order, which is time
    /// order up to the few milliseconds of a group commit) so a long log is not read from its start.
    public static func events(since: Timestamp, store: any EventLog) async throws -> [StoredEvent] {
        func first(after cursor: Int64) async throws -> StoredEvent? {
            try await store.events(after: cursor, limit: 1).first
        }
        var high: Int64 = 1024
        while try await first(after: high) != nil, high < (1 << 50) { high *= 2 }
        var low: Int64 = 0
        while high - low > 1 {
            let mid = low + (high - low) / 2
            if let e = try await first(after: mid), e.at < since { low = mid } else { high = mid }
        }
        var out: [StoredEvent] = []
        var cursor = low
        while out.count < scanLimit {
            let page = try await store.events(after: cursor, limit: 1000)
            out += page.filter { $0.at >= since && !($0.sessionID?.isCanary ?? false) }
            guard let last = page.last, page.count == 1000 else { break }
            cursor = last.seq
        }
        return out
    }

    /// One ended session for the history view: outcome, durations, lapses, and who acted.
    public static func historyRow(_ s: Session, _ events: [StoredEvent]) -> JSONValue {
        var actedBy: [String] = []
        var acknowledgedBy: [String] = []
        var endedBy: String?
        var lapses: Int64 = 0
        var missedDue: Timestamp?
        var deadlineToDispatch: Int64?
        for e in events {
            if let role = e.data["role"]?.stringValue, ["operator", "supervisor", "admin"].contains(role),
                let by = e.data["by"]?.stringValue, !actedBy.contains(by)
            {
                actedBy.append(by)
            }
            switch e.type {
            case .escalationStarted:
                lapses += 1
                missedDue = e.data(as: EventData.EscalationStarted.self)?.missedCheckInDueAt
            case .escalationAcknowledged:
                if let op = e.data(as: EventData.EscalationAcknowledged.self)?.operator.rawValue,
                    !acknowledgedBy.contains(op)
                {
                    acknowledgedBy.append(op)
                }
            case .dispatchAccepted:
                if deadlineToDispatch == nil, let due = missedDue { deadlineToDispatch = (e.at - due).wholeSeconds }
            case .sessionEnded:
                endedBy = e.data(as: EventData.SessionEnded.self)?.by.rawValue
            default:
                break
            }
        }
        let ended = s.endedAt ?? s.startedAt
        return [
            "id": .string(s.id.rawValue), "alias": .optional(s.caller.alias), "started_at": .time(s.startedAt),
            "ended_at": .time(s.endedAt), "outcome": .optional(s.outcome?.rawValue),
            "duration_s": .int((ended - s.startedAt).wholeSeconds), "lapses": .int(lapses),
            "dispatched": .bool(s.dispatch?.deliveredAt != nil),
            "deadline_to_dispatch_s": deadlineToDispatch.map { JSONValue.int($0) } ?? .null,
            "acted_by": .strings(actedBy), "acknowledged_by": .strings(acknowledgedBy), "ended_by": .optional(endedBy),
            "events": .int(Int64(events.count)),
        ]
    }

    /// The dashboard's figures over `hours` hours from `from`: sessions started and lapses per hour, the deadline →
    /// dispatch histogram, and deliveries by target and result.
    public static func stats(_ events: [StoredEvent], from: Timestamp, hours: Int, now: Timestamp) -> JSONValue {
        let hour = Int64(3_600_000)
        var started = [Int64](repeating: 0, count: hours)
        var lapses = [Int64](repeating: 0, count: hours)
        var missedDue: [SessionID: Timestamp] = [:]
        var dispatchedAfter: [Int64] = []
        var dispatchedSessions: Set<SessionID> = []
        var deliveries: [String: [String: Int64]] = [:]
        var failedNotifications: Int64 = 0
        for e in events {
            let index = Int((e.at - from).value / hour)
            let inWindow = index >= 0 && index < hours
            switch e.type {
            case .sessionStarted:
                if inWindow { started[index] += 1 }
            case .escalationStarted:
                if inWindow { lapses[index] += 1 }
                if let id = e.sessionID {
                    missedDue[id] = e.data(as: EventData.EscalationStarted.self)?.missedCheckInDueAt
                    dispatchedSessions.remove(id)
                }
            case .dispatchAccepted, .deliverySucceeded, .deliveryTargetFailed:
                let target = e.data["target"]?.stringValue ?? "?"
                let result = e.type == .deliveryTargetFailed ? "failed" : "delivered"
                deliveries[target, default: [:]][result, default: 0] += 1
                // The first 2xx of a dispatch after a missed deadline: how long the person waited for help.
                if e.type == .dispatchAccepted, let id = e.sessionID, !dispatchedSessions.contains(id),
                    let due = missedDue[id]
                {
                    dispatchedSessions.insert(id)
                    dispatchedAfter.append(max(0, (e.at - due).wholeSeconds))
                }
            case .deliveryFailed:
                failedNotifications += 1
            default:
                break
            }
        }
        var buckets: [JSONValue] = []
        var previous: Int64 = -1
        for bound in dispatchBuckets + [Int64.max] {
            let n = dispatchedAfter.filter { $0 > previous && $0 <= bound }.count
            let le: JSONValue = bound == .max ? .null : .int(bound)
            buckets.append(["le_s": le, "count": .int(Int64(n))])
            previous = bound
        }
        let perHour: [JSONValue] = (0..<hours).map { i -> JSONValue in
            [
                "start": .time(from + Millis(Int64(i) * hour)), "sessions": .int(started[i]),
                "lapses": .int(lapses[i]),
            ]
        }
        let byTarget: [JSONValue] = deliveries.keys.sorted().map { t -> JSONValue in
            [
                "target": .string(t), "delivered": .int(deliveries[t]?["delivered"] ?? 0),
                "failed": .int(deliveries[t]?["failed"] ?? 0),
            ]
        }
        let sorted = dispatchedAfter.sorted()
        return [
            "from": .time(from), "to": .time(now), "hours": .array(perHour),
            "deadline_to_dispatch": [
                "count": .int(Int64(sorted.count)), "buckets": .array(buckets),
                "median_s": sorted.isEmpty ? .null : .int(sorted[sorted.count / 2]),
            ],
            "deliveries": .array(byTarget), "notifications_failed": .int(failedNotifications),
        ]
    }
}
