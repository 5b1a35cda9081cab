import Testing
import VigilCore
import VigilTestKit

@Suite("responders: a friend first, EMS when nobody answers")
struct ResponderTests {
    static let gw: TargetName = "gateway"

    /// Responders at the end of the grace, each with 3 s to answer; EMS 8 s later.
    static func policy(goingPause: Millis = .seconds(5), emsAfter: Millis? = .seconds(8)) -> Policy {
        var steps = [Step(after: .zero, action: .contactResponders(via: gw, answer: .seconds(3)))]
        if let emsAfter { steps.append(Step(after: emsAfter, action: .dispatch([Harness.ems]))) }
        var p = Policy(name: "default", ackTimeout: .seconds(5), steps: steps, onDeliveryFailure: [Harness.alarm])
        p.goingPause = goingPause
        p.linkBase = "https://vigil.example.org/"
        return p
    }

    static func request(_ n: Int) -> StartRequest {
        var r = Harness.request
        r.substance = "fentanyl"
        r.responders = (0..<n).map { Responder(name: "R\($0 + 1)", phone: "+1555000000\($0)", relation: "friend") }
        return r
    }

    static func body(_ item: OutboxItem) throws -> JSONValue { try VigilJSON.decode(JSONValue.self, from: item.body) }

    /// The token of the latest request to responder `attempt`.
    static func token(_ h: Harness, attempt: Int) throws -> String {
        let item = h.store.notifications.last {
            $0.type == .responderRequested && (try? body($0)["data"]?["attempt"]?.intValue) == Int64(attempt)
        }!
        let url = try body(item)["data"]?["responder_url"]?.stringValue ?? ""
        return String(url.split(separator: "/").last ?? "")
    }

    static func answer(_ h: Harness, attempt: Int, _ a: ResponderAnswer) async throws {
        let (s, index) = await h.engine.session(responderToken: try token(h, attempt: attempt))!
        try await h.engine.execute(s.id, .responderAnswer(index: index, answer: a))
    }

    @Test("SHA-256 matches the FIPS 180-4 test vectors")
    func sha256() {
        #expect(SHA256Digest.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Digest.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256Digest.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("responders are contacted one at a time; nobody answers, EMS fires at its own time and they are cancelled")
    func nobodyAnswers() async throws {
        let h = Harness(policy: Self.policy())
        let s = try await h.start(Self.request(2))
        try await h.advance(by: .seconds(3))
        #expect(h.sent.map(\.0) == [.responderRequested])
        #expect(h.sent.first?.1 == [Self.gw])
        #expect(try await h.session(s.id).responderRun?.answerBy == h.time.now() + .seconds(3))
        try await h.advance(by: Millis(2900))
        #expect(h.sent.count == 1, "the first responder still has time to answer")
        try await h.advance(by: Millis(100))
        #expect(h.sent.map(\.0) == [.responderRequested, .responderRequested])
        try await h.advance(by: .seconds(3))
        #expect(h.sent.count == 2, "nobody is left to ask; EMS waits for its own time")
        try await h.advance(by: Millis(1900))
        #expect(h.sent.count == 2)
        try await h.advance(by: Millis(100))
        #expect(
            h.sent.map(\.0) == [
                .responderRequested, .responderRequested, .responderCancelled, .responderCancelled,
                .dispatchRequested,
            ])
        #expect(
            h.types(s.id).filter { $0.rawValue.hasPrefix("responder.") } == [
                .responderRequested, .responderNoAnswer, .responderRequested, .responderNoAnswer,
                .responderCancelled, .responderCancelled,
            ])
    }

    @Test("the request carries the responder, a message without substance or overdose, the location and the link")
    func requestBody() async throws {
        let h = Harness(policy: Self.policy())
        let s = try await h.start(Self.request(1))
        try await h.advance(by: .seconds(3))
        let data = try Self.body(h.store.notifications[0])["data"]
        #expect(data?["responder"]?["name"]?.stringValue == "R1")
        #expect(data?["responder"]?["phone"]?.stringValue == "+15550000000")
        #expect(data?["attempt"]?.intValue == 1)
        #expect(data?["location"]?["access_notes"]?.stringValue == "side door")
        let url = data?["responder_url"]?.stringValue ?? ""
        #expect(url.hasPrefix("https://vigil.example.org/r/"))
        #expect(try Self.token(h, attempt: 1).count == 32, "160 random bits")
        let message = data?["message"]?.stringValue ?? ""
        #expect(message.contains("123 Main St, unit 4B"))
        #expect(message.contains(url))
        #expect(!message.lowercased().contains("fentanyl"))
        #expect(!message.lowercased().contains("overdose"))
        #expect(data?["session"] == ["id": .string(s.id.rawValue), "state": "escalating", "caller": ["alias": "J"]])
        // Only the token's hash is kept.
        let stored = try await h.session(s.id)
        let token = try Self.token(h, attempt: 1)
        #expect(stored.responderLinks?.first?.tokenHash == SHA256Digest.hex(token))
        #expect(!"\(stored)".contains(token))
    }

    @Test("I'm going pauses the ladder past EMS's time; they're OK returns the session to active, no dispatch")
    func goingThenOK() async throws {
        let h = Harness(policy: Self.policy(goingPause: .seconds(20)))
        let s = try await h.start(Self.request(2))
        try await h.advance(by: .seconds(4))
        try await Self.answer(h, attempt: 1, .going)
        let paused = try await h.session(s.id)
        #expect(paused.escalation?.pausedUntil == h.time.now() + .seconds(20))
        #expect(paused.responderRun?.going == 0)
        try await h.advance(by: .seconds(15))
        #expect(h.sent.map(\.0) == [.responderRequested], "nobody else contacted, no EMS during the pause")
        try await Self.answer(h, attempt: 1, .ok)
        let after = try await h.session(s.id)
        #expect(after.state == .active)
        #expect(after.responderLinks?.first?.answer == .ok)
        try await h.advance(by: Millis(1500))
        #expect(!h.sent.contains { $0.0 == .dispatchRequested })
        let events = h.store.allEvents.filter { $0.sessionID == s.id }
        let checkIn = events.first { $0.type == .checkInReceived }
        #expect(checkIn?.data["source"]?.stringValue == "responder")
        #expect(h.types(s.id).contains(.responderGoing))
        #expect(h.types(s.id).contains(.responderOk))
    }

    @Test("I'm going that is not followed up gives way to EMS when the pause ends")
    func goingPauseEnds() async throws {
        let h = Harness(policy: Self.policy(goingPause: .seconds(10)))
        _ = try await h.start(Self.request(1))
        try await h.advance(by: .seconds(4))
        try await Self.answer(h, attempt: 1, .going)
        try await h.advance(by: Millis(9900))
        #expect(!h.sent.contains { $0.0 == .dispatchRequested })
        try await h.advance(by: Millis(200))
        #expect(h.sent.last?.0 == .dispatchRequested)
    }

    @Test("Call EMS now dispatches at once and cancels the responders still waiting")
    func emsNow() async throws {
        let h = Harness(policy: Self.policy())
        let s = try await h.start(Self.request(2))
        try await h.advance(by: .seconds(6))
        try await Self.answer(h, attempt: 2, .ems)
        #expect(
            h.sent.map(\.0) == [
                .responderRequested, .responderRequested, .responderCancelled, .dispatchRequested,
            ])
        #expect(try await h.session(s.id).dispatch?.requestedBy == "responder")
    }

    @Test("Call EMS with no dispatch step in the policy alarms the console, never silence")
    func emsWithoutDispatchStep() async throws {
        let h = Harness(policy: Self.policy(emsAfter: nil))
        let s = try await h.start(Self.request(1))
        try await h.advance(by: .seconds(4))
        try await Self.answer(h, attempt: 1, .ems)
        let after = try await h.session(s.id)
        #expect(after.deliveryFailures == 1)
        #expect(h.types(s.id).last == .responderEms)
    }

    @Test("a failed delivery to the gateway moves to the next responder at once")
    func gatewayFails() async throws {
        let h = Harness(policy: Self.policy())
        let s = try await h.start(Self.request(2))
        try await h.advance(by: .seconds(3))
        try await h.fail(.responderRequested, targetIndex: 0)
        #expect(h.sent.filter { $0.0 == .responderRequested }.count == 2)
        let run = try await h.session(s.id).responderRun
        #expect(run?.current == 1)
        #expect(run?.waiting == [1], "the first never got the request: no cancel is owed to them")
    }

    @Test("a check-in cancels every responder still waiting")
    func checkInCancels() async throws {
        let h = Harness(policy: Self.policy())
        let s = try await h.start(Self.request(2))
        try await h.advance(by: .seconds(6))
        try await h.engine.execute(s.id, .checkIn(source: .operator, note: nil))
        #expect(h.sent.filter { $0.0 == .responderCancelled }.count == 2)
        try await h.advance(by: .seconds(1))
        #expect(h.sent.filter { $0.0 == .responderRequested }.count == 2)
    }

    @Test("a session with no responders skips the step with responder.none")
    func noResponders() async throws {
        let h = Harness(policy: Self.policy())
        let s = try await h.start()
        try await h.advance(by: .seconds(3))
        #expect(h.types(s.id).last == .responderNone)
        #expect(h.sent.isEmpty)
        try await h.advance(by: .seconds(8))
        #expect(h.sent.map(\.0) == [.dispatchRequested])
    }

    @Test("the time to answer is a stored deadline: a restarted engine contacts the next responder on time")
    func answerTimeoutSurvivesRestart() async throws {
        let h = Harness(policy: Self.policy())
        let s = try await h.start(Self.request(2))
        try await h.advance(by: .seconds(3))
        let due = h.time.now() + .seconds(3)
        #expect(h.time.deadline(of: s.id) == due)
        let restarted = SessionEngine(
            store: h.store, scheduler: h.time, clock: h.time, policies: ["default": Self.policy()],
            observer: h.observer)
        #expect(try await restarted.recover() == 1)
        for id in h.time.advance(by: .seconds(3)) { try await restarted.fire(id) }
        #expect(h.sent.filter { $0.0 == .responderRequested }.count == 2)
    }
}
