/// A lapse counted for the mass lapse before it was decided.
struct LapseMark: Hashable, Sendable {
    /// Its lapse time (due time plus grace).
    var at: Timestamp
    /// The count of the episode that caught it; 0 when none did.
    var count: Int
}

/// One session that lapsed while nothing watched.
public struct OutageLapse: Hashable, Sendable {
    /// The session.
    public var id: SessionID
    /// The caller's alias (no other personal data: the stream's viewers see it).
    public var alias: String?
    /// Its lapse time: due time plus grace.
    public var lapsedAt: Timestamp
}

extension SessionEngine {
    /// The lapse time of a session whose next deadline starts its escalation and has passed by `now`, if any.
    static func pendingLapse(_ s: Session, now: Timestamp) -> Timestamp? {
        // A canary's lapse is on purpose: never counted, never an outage's.
        guard !s.id.isCanary, s.state == .active || s.state == .overdue, let d = s.nextDeadline, d <= now else {
            return nil
        }
        let lapse = s.due + s.grace
        return lapse <= now ? lapse : nil
    }

    /// Counts for the mass lapse every lapse already due by `now` among `ids` (every open session when nil) that
    /// is not counted yet, in lapse-time order, before any of them is decided: after an outage (a restart, the
    /// database back, the machine resuming) the deadlines that fell due while nothing watched are judged together
    /// by their due times, and every one an episode catches is held from the moment it is decided, not after the
    /// first few already dispatched. Raises each episode's alarm once, with its count at the end of the pass.
    /// Returns the lapses counted, oldest first.
    @discardableResult
    public func countLapses(before now: Timestamp, among ids: Set<SessionID>? = nil) -> [OutageLapse] {
        let candidates = ids.map { $0.compactMap { open[$0] } } ?? Array(open.values)
        let due =
            candidates
            .compactMap { s in Self.pendingLapse(s, now: now).map { (s, $0) } }
            .filter { s, at in lapseMarks[s.id]?.at != at }
            .sorted { ($0.1, $0.0.id.rawValue) < ($1.1, $1.0.id.rawValue) }
        guard !due.isEmpty else { return [] }
        var episodes: [Int] = []
        for (s, at) in due {
            guard let verdict = massLapse?.record(s.id, at: at) else {
                lapseMarks[s.id] = LapseMark(at: at, count: 0)
                continue
            }
            note(verdict, for: s.id, at: at)
            if verdict.newEpisode {
                episodes.append(verdict.count)
            } else if !verdict.caught.isEmpty, !episodes.isEmpty {
                episodes[episodes.count - 1] = verdict.count
            }
        }
        if !episodes.isEmpty, let notify = onMassLapse {
            let at = clock.now()
            Task { for count in episodes { await notify(count, at) } }
        }
        return due.map { OutageLapse(id: $0.0.id, alias: $0.0.caller.alias, lapsedAt: $0.1) }
    }

    /// Every open session's lapse that fell due while nothing watched, counted now (see `countLapses`): the
    /// recovery pass after a restart, the database's return or a resume, run before the deadlines are decided.
    @discardableResult
    public func recoverOverdue() -> [OutageLapse] {
        countLapses(before: clock.now())
    }

    /// Applies a verdict on the lapse of `id` at `at`: the lapse is marked counted (with the episode's count when
    /// caught), so that deciding it again after a failed commit neither counts it twice nor forgets the catch; each
    /// other session it caught that is still undecided keeps the count in its mark (its decision holds it), and one
    /// already decided is held after the fact.
    func note(_ verdict: MassLapseVerdict, for id: SessionID, at: Timestamp) {
        lapseMarks[id] = LapseMark(at: at, count: verdict.caught.contains(id) ? verdict.count : 0)
        for c in verdict.caught where c != id {
            if var mark = lapseMarks[c] {
                mark.count = verdict.count
                lapseMarks[c] = mark
            } else {
                pendingHolds.append((c, verdict.count))
            }
        }
    }

    /// Drops a session's lapse mark once its lapse was decided or can no longer happen at that time.
    func forgetLapseMark(_ s: Session) {
        guard let mark = lapseMarks[s.id] else { return }
        if !(s.state == .active || s.state == .overdue) || s.due + s.grace != mark.at { lapseMarks[s.id] = nil }
    }
}

extension SessionEngine {
    /// Open sessions whose lapse time falls after `after` and at or before `upTo`: those decided already (their
    /// escalation started at that time) and those still waiting to be; oldest first.
    public func lapses(after: Timestamp, upTo: Timestamp) -> [OutageLapse] {
        open.values.compactMap { s -> OutageLapse? in
            if s.id.isCanary { return nil }
            let at = s.escalation?.startedAt ?? Self.pendingLapse(s, now: upTo)
            guard let at, at > after, at <= upTo else { return nil }
            return OutageLapse(id: s.id, alias: s.caller.alias, lapsedAt: at)
        }
        .sorted { ($0.lapsedAt, $0.id.rawValue) < ($1.lapsedAt, $1.id.rawValue) }
    }
}
