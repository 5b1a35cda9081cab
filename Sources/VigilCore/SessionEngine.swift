/// Runs commands against sessions: decide in `SessionMachine`, commit durably, then answer and re-arm.
///
/// Commands on one session are serialized; commands on different sessions proceed together, so their writes
/// can share one commit.
public actor SessionEngine {
    let store: any SessionRepository
    private let scheduler: any TimerScheduler
    let clock: any WallClock
    let ids: IDGenerator
    let observer: any EngineObserver
    var policies: [String: Policy]
    var open: [SessionID: Session] = [:]
    private var byToken: [String: SessionID] = [:]
    /// Open sessions by the hash of a responder link's token, and each session's hashes.
    private var byResponderHash: [String: SessionID] = [:]
    private var responderHashes: [SessionID: [String]] = [:]
    /// Mass-lapse detection (off until configured) and what to do when an episode starts.
    var massLapse: MassLapseDetector?
    var onMassLapse: (@Sendable (Int, Timestamp) async -> Void)?
    /// Sessions caught at an episode's start that still need their hold.
    var pendingHolds: [(SessionID, Int)] = []
    /// Lapses counted before they were decided (a recovery's overdue deadlines): their lapse time and, when an
    /// episode caught them, its count (0: counted, not caught).
    var lapseMarks: [SessionID: LapseMark] = [:]
    private var waiting: [SessionID: [CheckedContinuation<Void, Never>]] = [:]
    private var deciding = true
    /// Sessions whose latest state this engine read from the store (another instance committed it last).
    private var foreign: Set<SessionID> = []
    /// How long a deadline of a foreign session is left to the instance that committed it last before this one
    /// fires it too; zero with one instance. Either may fire (the compare-and-set keeps each step once): the delay
    /// only spares both from deciding the same deadline while the other is alive.
    private var foreignDelay = Millis.zero
    private var sharedPolicies: [String: Policy] = [:]
    /// Each open session's next deadline, kept beside `open` so the sweep and the watchdog scan small values, not
    /// whole sessions.
    private var deadlines: [SessionID: Timestamp] = [:]
    /// `routes:`, when configured, and the dispatch targets an operator may pin.
    private var routing: (table: RouteTable, targets: Set<TargetName>)?

    /// Creates an engine over its ports.
    public init(
        store: any SessionRepository, scheduler: any TimerScheduler, clock: any WallClock, ids: IDGenerator = .system,
        policies: [String: Policy], observer: any EngineObserver
    ) {
        self.store = store
        self.scheduler = scheduler
        self.clock = clock
        self.ids = ids
        self.policies = policies
        self.observer = observer
    }

    /// Loads every open session and arms its deadline; a deadline already past fires at once.
    @discardableResult
    public func recover() async throws -> Int {
        let sessions = try await store.openSessions()
        for s in sessions { remember(s) }
        return sessions.count
    }

    /// Now, by the engine's clock.
    public nonisolated func now() -> Timestamp { clock.now() }

    /// How many sessions are open.
    public var openCount: Int { open.count }

    /// The open sessions, in memory.
    public func openSessions() -> [Session] { Array(open.values) }

    /// One session: from memory while open, else from the store.
    public func session(_ id: SessionID) async throws -> Session? {
        if let s = open[id] { return s }
        return try await store.session(id)
    }

    /// The session a check-in link token belongs to, while it is open; one this engine has not heard of yet (started
    /// on another instance a moment ago) is looked up in the store.
    public func session(token: String) async -> Session? {
        if byToken[token] == nil { await adoptLinked(SHA256Digest.hex(token)) }
        guard let id = byToken[token] else { return nil }
        return open[id]
    }

    /// The open session a responder link's token belongs to, and the responder's place in its list; looked up in the
    /// store as a check-in link is.
    public func session(responderToken token: String) async -> (Session, Int)? {
        let hash = SHA256Digest.hex(token)
        if byResponderHash[hash] == nil { await adoptLinked(hash) }
        guard let id = byResponderHash[hash], let s = open[id],
            let link = s.responderLinks?.first(where: { $0.tokenHash == hash })
        else { return nil }
        return (s, link.index)
    }

    /// Starts a session (a repeated request is answered before it gets here: its `Idempotency-Key` is kept in the
    /// store).
    public func start(_ req: StartRequest, actor: Actor? = nil) async throws -> Session {
        guard let policy = policies[req.policy] else { throw VigilError.invalid("unknown policy \"\(req.policy)\"") }
        let id = ids.sessionID()
        var d = SessionMachine.start(
            req, policy: policy, id: id, token: ids.checkInToken(), at: clock.now(),
            routing: routing.map { RoutingState(route: $0.table.resolve(req.location)) })
        if let actor { d.events = d.events.map { stamped($0, actor) } }
        await acquire(id)
        defer { release(id) }
        await recordLinks(of: d.session, before: nil)
        return try await commitNew(d.session, d.events)
    }

    /// Stores a session that did not exist before (a start, or a canary round) with its first events, and watches
    /// it; the caller holds the session's lock.
    func commitNew(_ session: Session, _ newEvents: [NewEvent]) async throws -> Session {
        let events = try await store.commit(
            CommitBatch(
                session: session, expectedVersion: nil, sessionID: session.id, events: newEvents, outbox: [],
                outboxUpdates: []))
        remember(session)
        observer.committed(events)
        return session
    }

    /// Runs a command on a session and returns the session after it.
    @discardableResult
    public func execute(_ id: SessionID, _ command: Command, actor: Actor? = nil) async throws
        -> Session
    {
        try Canary.admits(id, command)
        await acquire(id)
        defer { release(id) }
        var current: Session
        if let s = open[id] {
            current = s
        } else if let ended = try await endIfUnreadable(id, command) {
            return ended
        } else if let s = try await store.session(id) {
            current = s
        } else {
            throw VigilError.sessionNotFound
        }
        let command = try routed(command, current)
        for attempt in 0..<2 {
            var d = try SessionMachine.decide(current, command, at: clock.now(), ids: ids, actor: actor)
            if let held = try massLapseCheck(current, d, command) { d = held }
            if d.isNoop && d.outboxUpdates.isEmpty { return current }
            let changed = !d.isNoop
            if changed { await recordLinks(of: d.session, before: current) }
            do {
                let events = try await store.commit(
                    CommitBatch(
                        session: changed ? d.session : nil, expectedVersion: current.version, sessionID: id,
                        events: d.events, outbox: d.outbox, outboxUpdates: d.outboxUpdates))
                if changed { remember(d.session) }
                observer.committed(events)
                if !d.outbox.isEmpty || !d.outboxUpdates.isEmpty { observer.outboxChanged() }
                return changed ? d.session : current
            } catch let e as VigilError where e.code == .conflict && attempt == 0 {
                // Someone else changed the stored snapshot: decide again on what is stored.
                guard let fresh = try await store.session(id) else { throw VigilError.sessionNotFound }
                current = fresh
            }
        }
        throw VigilError.unavailable("the session changed concurrently; try again")
    }

    /// Runs commands on several sessions together: every decision is made in this one actor turn and all their
    /// writes go to the store as one group (one transaction on SQLite), each still its own compare-and-set. A
    /// session busy with another command, not in memory, or changed concurrently falls back to `execute` on its
    /// own. The results are in the commands' order.
    public func executeMany(_ commands: [(SessionID, Command)], actor: Actor? = nil) async -> [Result<
        Session, any Error
    >] {
        var results = [Result<Session, any Error>?](repeating: nil, count: commands.count)
        var batches: [CommitBatch] = []
        var decided: [(index: Int, current: Session, decision: Decision)] = []
        var fallback: [Int] = []
        let now = clock.now()
        for (i, (id, command)) in commands.enumerated() {
            if id.isCanary, (try? Canary.admits(id, command)) == nil {
                results[i] = .failure(VigilError.sessionNotFound)
                continue
            }
            guard waiting[id] == nil, let current = open[id] else {
                fallback.append(i)
                continue
            }
            do {
                var d = try SessionMachine.decide(current, command, at: now, ids: ids, actor: actor)
                if let held = try massLapseCheck(current, d, command) { d = held }
                if d.isNoop && d.outboxUpdates.isEmpty {
                    results[i] = .success(current)
                    continue
                }
                waiting[id] = []
                batches.append(
                    CommitBatch(
                        session: d.isNoop ? nil : d.session, expectedVersion: current.version, sessionID: id,
                        events: d.events, outbox: d.outbox, outboxUpdates: d.outboxUpdates))
                decided.append((i, current, d))
            } catch {
                results[i] = .failure(error)
            }
        }
        if !batches.isEmpty {
            for (_, current, d) in decided where !d.isNoop { await recordLinks(of: d.session, before: current) }
            let outcomes = await store.commitAll(batches)
            var outboxChanged = false
            for (k, outcome) in outcomes.enumerated() where k < decided.count {
                let (i, current, d) = decided[k]
                switch outcome {
                case .success(let events):
                    if !d.isNoop { remember(d.session) }
                    observer.committed(events)
                    if !d.outbox.isEmpty || !d.outboxUpdates.isEmpty { outboxChanged = true }
                    results[i] = .success(d.isNoop ? current : d.session)
                case .failure(let e as VigilError) where e.code == .conflict:
                    fallback.append(i)
                case .failure(let e):
                    results[i] = .failure(e)
                }
                release(current.id)
            }
            if outboxChanged { observer.outboxChanged() }
        }
        if !fallback.isEmpty {
            let work = fallback.map { (index: $0, id: commands[$0].0, command: commands[$0].1) }
            // Concurrently, through ConcurrentResults: see there why not a task group of indexed results.
            let late = await ConcurrentResults.results(work.count) { k in
                try await self.execute(work[k].id, work[k].command, actor: actor)
            }
            for (k, r) in late.enumerated() where results.indices.contains(work[k].index) { results[work[k].index] = r }
        }
        return results.map { $0 ?? .failure(VigilError.unavailable("the command was not run")) }
    }

    /// Fires the deadlines of several sessions together (see `executeMany`); returns how many fired and how many
    /// could not be recorded (the sweep retries those).
    @discardableResult
    public func fire(_ ids: [SessionID]) async -> (fired: Int, errors: Int) {
        guard deciding else { return (0, 0) }
        let now = clock.now()
        var ready: [(SessionID, Command)] = []
        var others: [SessionID] = []
        countLapses(before: now, among: Set(ids))
        for id in Set(ids) {
            guard let s = open[id] else {
                others.append(id)
                continue
            }
            guard let d = s.nextDeadline else { continue }
            if foreignDelay > .zero, foreign.contains(id), now < d + foreignDelay {
                scheduler.arm(id, at: d + foreignDelay)
            } else if d > now {
                scheduler.arm(id, at: d)
            } else {
                ready.append((id, .deadline))
            }
        }
        var fired = 0
        var errors = 0
        for r in await executeMany(ready) {
            if case .success = r { fired += 1 } else { errors += 1 }
        }
        await applyPendingHolds()
        // Sessions this engine does not hold (another instance's, or ended): one at a time, as before.
        for id in others {
            do {
                try await fire(id)
                fired += 1
            } catch {
                errors += 1
            }
        }
        return (fired, errors)
    }

    /// Fires whatever is due on a session; called by the scheduler and the sweep.
    public func fire(_ id: SessionID) async throws {
        // An instance that cannot trust its clock against the others' lets them decide (the sweep retries).
        guard deciding else { return }
        var known = open[id]
        if known == nil, let stored = try await store.session(id), stored.state.isOpen {
            // A session another instance started or changed (several instances share the store): adopt it.
            remember(stored, foreign: true)
            known = stored
        }
        guard let s = known else {
            scheduler.disarm(id)
            return
        }
        guard let d = s.nextDeadline else { return }
        if foreignDelay > .zero, foreign.contains(id), clock.now() < d + foreignDelay {
            scheduler.arm(id, at: d + foreignDelay)
            return
        }
        if d > clock.now() {
            // Not yet due by this clock (a timer ran early or the clock stepped): wait again.
            scheduler.arm(id, at: d)
            return
        }
        try await execute(id, .deadline)
        await applyPendingHolds()
    }

    /// Fires every open session whose deadline has passed, from memory and from the store; returns how many.
    public func sweep() async -> (fired: Int, errors: Int) {
        let now = clock.now()
        var due = Set(deadlines.compactMap { $0.value <= now ? $0.key : nil })
        if let stored = try? await store.sessionsDue(before: now) { due.formUnion(stored) }
        return await fire(Array(due))
    }

    /// Turns routing on: `table` resolves locations, `targets` are the names an operator may pin.
    public func setRouting(_ table: RouteTable?, targets: Set<TargetName>) {
        routing = table.map { ($0, targets) }
    }

    /// An update with the route its location resolves to, and a pin checked against the configured targets.
    private func routed(_ command: Command, _ current: Session) throws -> Command {
        guard case .update(var patch, let by) = command, let routing else { return command }
        if case .pin(let t)? = patch.route, !routing.targets.contains(t) {
            throw VigilError.invalid("route.target must name a configured target")
        }
        patch.resolvedRoute = routing.table.resolve(patch.location ?? current.location)
        return .update(patch, by: by)
    }

    /// Sets how long this engine leaves other instances' deadlines to them before firing them itself.
    public func setForeignDelay(_ d: Millis) { foreignDelay = d }

    /// Whether deadlines fire here: an instance whose clock drifted from the shared database's stops deciding.
    public func setDeciding(_ on: Bool) { deciding = on }

    /// Whether deadlines fire here.
    public var isDeciding: Bool { deciding }

    /// Reloads a session that may have changed in the store (another instance committed to it) and re-arms its
    /// deadline; a version this engine already has changes nothing.
    public func refresh(_ id: SessionID) async throws {
        await acquire(id)
        defer { release(id) }
        guard let stored = try await store.session(id) else { return }
        if let mine = open[id], mine.version >= stored.version { return }
        if open[id] == nil && !stored.state.isOpen { return }
        remember(stored, foreign: true)
    }

    /// The earliest deadline among open sessions that is already past, if any.
    public func oldestPastDeadline() -> Timestamp? {
        let now = clock.now()
        var oldest: Timestamp?
        for d in deadlines.values where d <= now && d < (oldest ?? d + Millis(1)) { oldest = d }
        return oldest
    }

    /// Open sessions hold one copy of each policy they use (most share a handful), not one each.
    private func shared(_ p: Policy) -> Policy {
        if let q = sharedPolicies[p.name], q == p { return q }
        sharedPolicies[p.name] = p
        return p
    }

    func remember(_ s: Session, foreign isForeign: Bool = false) {
        forgetLapseMark(s)
        if isForeign { foreign.insert(s.id) } else { foreign.remove(s.id) }
        for h in responderHashes.removeValue(forKey: s.id) ?? [] { byResponderHash[h] = nil }
        if s.state.isOpen, let links = s.responderLinks, !links.isEmpty {
            responderHashes[s.id] = links.map(\.tokenHash)
            for l in links { byResponderHash[l.tokenHash] = s.id }
        }
        if s.state.isOpen {
            var s = s
            s.policy = shared(s.policy)
            open[s.id] = s
            byToken[s.checkInToken] = s.id
            let d = s.nextDeadline
            deadlines[s.id] = d
            if let d { scheduler.arm(s.id, at: d) } else { scheduler.disarm(s.id) }
        } else {
            open[s.id] = nil
            deadlines[s.id] = nil
            foreign.remove(s.id)
            byToken[s.checkInToken] = nil
            scheduler.disarm(s.id)
        }
    }

    func acquire(_ id: SessionID) async {
        if waiting[id] == nil {
            waiting[id] = []
            return
        }
        await withCheckedContinuation { waiting[id, default: []].append($0) }
    }

    func release(_ id: SessionID) {
        guard var queue = waiting[id], !queue.isEmpty else {
            waiting[id] = nil
            return
        }
        let next = queue.removeFirst()
        waiting[id] = queue
        next.resume()
    }
}
