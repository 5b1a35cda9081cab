/// `GET /v1/reports/summary`: anonymous counts over the event log, that a hotline can publish.
public struct SummaryReport: Hashable, Sendable {
    public var sessions = 0
    public var lapses = 0
    public var respondersContacted = 0
    public var respondersOK = 0
    public var dispatches = 0
    public var dispatchesAccepted = 0
    public var dispatchesCancelled = 0
    public var outcomes: [String: Int] = [:]
    public var followUpOutcomes: [String: Int] = [:]
    public var naloxoneUsed = 0
    /// Resources offered at follow-up, by kind.
    public var referrals: [String: Int] = [:]
    /// Missed deadline → first 2xx of each dispatch, in milliseconds.
    public var deadlineToDispatch: [Int64] = []
    /// Missed deadline → first `accepted` of each dispatch, in milliseconds.
    public var deadlineToAccept: [Int64] = []

    /// An empty report.
    public init() {}

    /// Per session, while reading the log in order.
    struct Track {
        var missedDueAt: Timestamp?
        var inCycle = false
        var delivered = false
        var accepted = false
        var cancelled = false
    }

    /// Counts the events of `[from, to)` (either open); events before `from` are read for context only (the
    /// deadline a later dispatch answers). `events` must be in log order.
    public static func count(_ events: [StoredEvent], from: Timestamp?, to: Timestamp?) -> SummaryReport {
        var r = SummaryReport()
        var tracks: [SessionID: Track] = [:]
        r.add(events, from: from, to: to, tracks: &tracks)
        return r
    }

    /// Adds a page of the log, keeping per-session context in `tracks` across pages.
    mutating func add(_ events: [StoredEvent], from: Timestamp?, to: Timestamp?, tracks: inout [SessionID: Track]) {
        let responderRequested = EventType(rawValue: "responder.requested")
        let responderOK = EventType(rawValue: "responder.ok")
        for e in events {
            if let to, e.at >= to { continue }
            let counted = from.map { e.at >= $0 } ?? true
            guard let sid = e.sessionID else { continue }
            var t = tracks[sid] ?? Track()
            defer { tracks[sid] = t }
            if responderRequested != nil, e.type == responderRequested, counted { respondersContacted += 1 }
            if responderOK != nil, e.type == responderOK, counted { respondersOK += 1 }
            switch e.type {
            case .sessionStarted:
                if counted { sessions += 1 }
            case .checkInOverdue:
                t.missedDueAt = e.data(as: EventData.CheckInOverdue.self)?.dueAt
            case .checkInReceived:
                if !t.inCycle { t.missedDueAt = nil }
            case .escalationStarted:
                if counted { lapses += 1 }
            case .dispatchRequested:
                t.inCycle = true
                t.delivered = false
                t.accepted = false
                t.cancelled = false
                if counted { dispatches += 1 }
            case .dispatchAccepted:
                guard t.inCycle, !t.delivered, e.data(as: EventData.DispatchAccepted.self)?.afterCancel == nil else {
                    break
                }
                t.delivered = true
                if counted, let m = t.missedDueAt { deadlineToDispatch.append(max(0, (e.at - m).value)) }
            case .dispatchStatus:
                guard t.inCycle, !t.accepted, e.data(as: EventData.DispatchStatusReported.self)?.status == .accepted
                else { break }
                t.accepted = true
                if counted {
                    dispatchesAccepted += 1
                    if let m = t.missedDueAt { deadlineToAccept.append(max(0, (e.at - m).value)) }
                }
            case .dispatchCancelled:
                guard t.inCycle, !t.cancelled, e.data(as: EventData.DispatchCancelled.self)?.failover == nil else {
                    break
                }
                t.cancelled = true
                if counted { dispatchesCancelled += 1 }
            case .sessionEnded:
                if counted, let o = e.data(as: EventData.SessionEnded.self)?.outcome {
                    outcomes[o.rawValue, default: 0] += 1
                }
            case .followUpClosed:
                guard counted else { break }
                guard let closed = e.data(as: EventData.FollowUpClosed.self) else { break }
                followUpOutcomes[closed.outcome.rawValue, default: 0] += 1
                if closed.naloxoneUsed == true { naloxoneUsed += 1 }
                for r in closed.referrals ?? [] { referrals[r.kind.rawValue, default: 0] += 1 }
            default:
                break
            }
        }
    }

    /// The median of `values` in whole seconds (rounded), or nil for none.
    public static func medianSeconds(_ values: [Int64]) -> Int64? {
        guard !values.isEmpty else { return nil }
        let v = values.sorted()
        let mid = v.count / 2
        let ms = v.count % 2 == 1 ? v[mid] : v[mid - 1] / 2 + v[mid] / 2
        return (ms + 500) / 1000
    }

    /// The report as the API answers it.
    public var json: JSONValue {
        [
            "sessions": .int(Int64(sessions)), "lapses": .int(Int64(lapses)),
            "responders_contacted": .int(Int64(respondersContacted)), "responders_ok": .int(Int64(respondersOK)),
            "dispatches": .int(Int64(dispatches)), "dispatches_accepted": .int(Int64(dispatchesAccepted)),
            "dispatches_cancelled": .int(Int64(dispatchesCancelled)),
            "outcomes": .object(outcomes.mapValues { .int(Int64($0)) }),
            "follow_up_outcomes": .object(followUpOutcomes.mapValues { .int(Int64($0)) }),
            "naloxone_used": .int(Int64(naloxoneUsed)),
            "referrals": .object(referrals.mapValues { .int(Int64($0)) }),
            "median_deadline_to_dispatch_s": Self.medianSeconds(deadlineToDispatch).map { .int($0) } ?? .null,
            "median_deadline_to_accept_s": Self.medianSeconds(deadlineToAccept).map { .int($0) } ?? .null,
        ]
    }
}

extension SessionStore {
    /// Reads the whole event log in pages and counts `[from, to)`.
    public func summary(from: Timestamp?, to: Timestamp?) async throws -> SummaryReport {
        var r = SummaryReport()
        var tracks: [SessionID: SummaryReport.Track] = [:]
        var after: Int64 = 0
        while true {
            let page = try await events(after: after, limit: 5000)
            guard let last = page.last else { break }
            // Canaries lapse on purpose: never counted.
            r.add(page.filter { !($0.sessionID?.isCanary ?? false) }, from: from, to: to, tracks: &tracks)
            after = last.seq
            if let to, last.at >= to + .seconds(3600) { break }
        }
        return r
    }

    /// Sessions that carry a follow-up, newest first (`state`: `open`, `closed`, or nil for both).
    public func followUps(state: String?, limit: Int = 10_000) async throws -> [Session] {
        try await sessions(.all, limit: limit).filter { s in
            guard let f = s.followUp else { return false }
            return state == nil || f.state == state
        }
    }
}

extension FollowUp {
    /// The follow-up as `GET /v1/follow-ups` lists it; with `callbackNumber` (a staff read), an open one carries
    /// the person's number, which the call back needs.
    public static func json(_ s: Session, callbackNumber: Bool = false) -> JSONValue? {
        guard let f = s.followUp else { return nil }
        var o: [String: JSONValue] = [
            "id": .string(f.id), "session_id": .string(s.id.rawValue), "alias": .optional(s.caller.alias),
            "due_at": .time(f.dueAt), "state": .string(f.state), "outcome": .optional(f.outcome?.rawValue),
            "naloxone_used": f.naloxoneUsed.map { .bool($0) } ?? .null, "closed_at": .time(f.closedAt),
            "closed_by": .optional(f.closedBy?.rawValue), "created_at": .time(f.createdAt),
            "referrals": .array((f.referrals ?? []).map { .string($0) }),
        ]
        if callbackNumber, f.closedAt == nil { o["callback_number"] = .optional(s.caller.callbackNumber) }
        return .object(o)
    }
}
