import Synchronization
import Testing
import VigilCore

/// `SessionMachine.decide` called directly: the events and outbox rows each decision makes, not only the state it
/// leaves. No engine, no store, no clock: (session, command, now) in, a decision out.
@Suite("decide: the events and notifications of each decision")
struct DecideTests {
    static let t0 = Timestamp(seconds: 1_795_341_600)
    static let ids = IDGenerator.system
    static let policy = Policy(
        name: "default", ackTimeout: .seconds(60),
        steps: [
            Step(after: .zero, action: .notify(["supervisor"])),
            Step(after: .seconds(30), action: .dispatch(["ems", "backup"])),
        ])

    static func started() -> Session {
        SessionMachine.start(
            StartRequest(
                caller: Caller(alias: "J"), location: Location(address: "1 Main St"), interval: .seconds(60),
                grace: .seconds(10), policy: "default", notes: nil),
            policy: policy, id: SessionID(rawValue: "ses_decide"), token: "tok", at: t0
        ).session
    }

    @Test("a start logs session.started with the next due time and sends nothing")
    func start() {
        let d = SessionMachine.start(
            StartRequest(
                caller: Caller(alias: "J"), location: Location(address: "1 Main St"), interval: .seconds(60),
                grace: .seconds(10), policy: "default", notes: nil),
            policy: Self.policy, id: SessionID(rawValue: "ses_decide"), token: "tok", at: Self.t0)
        #expect(d.events.map(\.type) == [.sessionStarted])
        #expect(d.events[0].data["next_check_in_due_at"]?.stringValue == (Self.t0 + .seconds(60)).rfc3339)
        #expect(d.outbox.isEmpty)
        #expect(d.session.version == 1)
    }

    @Test("a deadline: nothing before the due time; overdue at it; escalation and the first step after the grace")
    func missedCheckIn() throws {
        let s = Self.started()
        let early = try SessionMachine.decide(s, .deadline, at: Self.t0 + .seconds(59), ids: Self.ids)
        #expect(early.isNoop)
        let overdue = try SessionMachine.decide(s, .deadline, at: Self.t0 + .seconds(60), ids: Self.ids)
        #expect(overdue.events.map(\.type) == [.checkInOverdue])
        #expect(overdue.outbox.isEmpty)
        #expect(overdue.session.state == .overdue)
        let d = try SessionMachine.decide(overdue.session, .deadline, at: Self.t0 + .seconds(70), ids: Self.ids)
        #expect(d.events.map(\.type) == [.escalationStarted, .escalationStep])
        #expect(d.outbox.count == 1)
        #expect(d.outbox[0].type == .escalationStep)
        #expect(d.outbox[0].targets == ["supervisor"])
        #expect(d.outbox[0].isDispatch == false)
        #expect(d.session.version == overdue.session.version + 1)
    }

    @Test("the dispatch step writes one notification with every target in failover order, one webhook id each")
    func dispatchStep() throws {
        let s = Self.started()
        let overdue = try SessionMachine.decide(s, .deadline, at: Self.t0 + .seconds(60), ids: Self.ids).session
        let escalated = try SessionMachine.decide(overdue, .deadline, at: Self.t0 + .seconds(70), ids: Self.ids).session
        let d = try SessionMachine.decide(escalated, .deadline, at: Self.t0 + .seconds(100), ids: Self.ids)
        #expect(d.events.map(\.type).contains(.dispatchRequested))
        let dispatch = try #require(d.outbox.first { $0.isDispatch })
        #expect(dispatch.type == .dispatchRequested)
        #expect(dispatch.targets == ["ems", "backup"])
        #expect(dispatch.webhookIDs.count == 2 && Set(dispatch.webhookIDs).count == 2)
        #expect(d.session.state == .escalating)
    }

    @Test("a check-in while active logs it and re-arms")
    func checkInWhileActive() throws {
        let s = Self.started()
        let d = try SessionMachine.decide(
            s, .checkIn(source: .caller, note: nil), at: Self.t0 + .seconds(30), ids: Self.ids)
        #expect(d.events.map(\.type) == [.checkInReceived])
        #expect(d.outbox.isEmpty)
        #expect(d.session.due == Self.t0 + .seconds(90))
    }

    @Test("the actor is stamped on every event a command makes")
    func actorStamped() throws {
        let d = try SessionMachine.decide(
            Self.started(), .end(outcome: .safe, by: "ana", note: nil), at: Self.t0 + .seconds(5), ids: Self.ids,
            actor: Actor(name: "ana", role: "operator"))
        #expect(!d.events.isEmpty)
        for e in d.events { #expect(e.data["role"]?.stringValue == "operator") }
    }
}

@Suite("CommitListener")
struct CommitListenerTests {
    @Test("a listener read on every commit stays one call deep: 500,000 notifications do not overflow the stack")
    func constantDepth() {
        let listener = CommitListener()
        let heard = Mutex(0)
        listener.set { events in heard.withLock { $0 += events.count } }
        let event = StoredEvent(
            seq: 1, sessionID: nil, type: .systemAlarm, at: Timestamp(seconds: 0), data: .object([:]))
        // A closure re-wrapped on every read would be a million thunks deep by the end, past any thread's stack.
        for _ in 0..<500_000 { listener.notify([event]) }
        #expect(heard.withLock { $0 } == 500_000)
    }
}
