import Synchronization
import Testing
import VigilCore
import VigilTestKit

@Suite("mass lapse: many sessions lapsing together is a system failure until shown otherwise")
struct MassLapseTests {
    static let t0 = Timestamp(seconds: 1_800_000_000)
    static func id(_ n: Int) -> SessionID { SessionID(rawValue: "ses_m\(n)") }

    @Test("more than `sessions` lapses within the window start one episode that catches them all")
    func oneEpisode() {
        var d = MassLapseDetector(MassLapseSettings(sessions: 10, within: .seconds(60)))
        var verdicts: [MassLapseVerdict] = []
        for n in 0..<12 { verdicts.append(d.record(Self.id(n), at: Self.t0 + .seconds(Int64(n) * 5))) }
        #expect(verdicts.prefix(10).allSatisfy { !$0.newEpisode && $0.caught.isEmpty })
        #expect(verdicts[10].newEpisode)
        #expect(verdicts[10].count == 11)
        #expect(Set(verdicts[10].caught) == Set((0...10).map(Self.id)))
        #expect(!verdicts[11].newEpisode, "the alarm is not repeated")
        #expect(verdicts[11].caught == [Self.id(11)])
        #expect(verdicts[11].count == 12)
    }

    @Test("the episode ends when the window passes with no new lapse; a later burst is a new episode")
    func episodeEnds() {
        var d = MassLapseDetector(MassLapseSettings(sessions: 2, within: .seconds(10)))
        for n in 0..<3 { _ = d.record(Self.id(n), at: Self.t0) }
        #expect(d.inEpisode(at: Self.t0 + .seconds(10)))
        let lone = d.record(Self.id(3), at: Self.t0 + .seconds(30))
        #expect(!lone.newEpisode && lone.caught.isEmpty)
        var again: [MassLapseVerdict] = []
        for n in 4..<6 { again.append(d.record(Self.id(n), at: Self.t0 + .seconds(31))) }
        #expect(again.last?.newEpisode == true)
    }

    @Test("lapses are judged by their due time plus grace: a restart that notices a day's lapses at once is no episode")
    func judgedByLapseTime() {
        var d = MassLapseDetector(MassLapseSettings(sessions: 10, within: .seconds(60)))
        // Noticed together after downtime, but they fell due 5 minutes apart.
        let verdicts = (0..<30).map { d.record(Self.id($0), at: Self.t0 + .seconds(Int64($0) * 300)) }
        #expect(verdicts.allSatisfy { !$0.newEpisode })
    }

    @Test("sessions: 0 turns detection off")
    func off() {
        var d = MassLapseDetector(MassLapseSettings(sessions: 0, within: .seconds(60)))
        #expect((0..<50).map { d.record(Self.id($0), at: Self.t0) }.allSatisfy { !$0.newEpisode })
    }

    static func holdPolicy(hold: Millis) -> Policy {
        var p = Policy(
            name: "default", ackTimeout: .seconds(60),
            steps: [Step(after: .seconds(1), action: .dispatch([Harness.ems]))])
        p.holdDispatchOnMassLapse = hold
        return p
    }

    static func waitFor(_ f: () -> Bool) async {
        for _ in 0..<1000 where !f() { await Task.yield() }
    }

    @Test("caught sessions hold their dispatch for the policy's hold; the alarm is raised once, with the count")
    func holdsDispatch() async throws {
        let h = Harness(policy: Self.holdPolicy(hold: .seconds(10)))
        let alarms = Mutex<[Int]>([])
        await h.engine.setMassLapse(MassLapseSettings(sessions: 2, within: .seconds(10))) { count, _ in
            alarms.withLock { $0.append(count) }
        }
        var ids: [SessionID] = []
        for _ in 0..<4 { ids.append(try await h.start().id) }
        try await h.advance(by: .seconds(3))
        await Self.waitFor { !alarms.withLock { $0.isEmpty } }
        #expect(alarms.withLock { $0 } == [3])
        for id in ids { #expect(try await h.session(id).massLapseHoldUntil != nil, "\(id) is held") }
        try await h.advance(by: .seconds(9))
        #expect(!h.sent.contains { $0.0 == .dispatchRequested }, "no dispatch before the hold ends")
        try await h.advance(by: .seconds(2))
        #expect(h.sent.filter { $0.0 == .dispatchRequested }.count == 4)
        #expect(alarms.withLock { $0 } == [3], "one alarm per episode")
    }

    @Test("a release dispatches the held sessions at once; an operator's dispatch is never held")
    func release() async throws {
        let h = Harness(policy: Self.holdPolicy(hold: .seconds(600)))
        await h.engine.setMassLapse(MassLapseSettings(sessions: 1, within: .seconds(10))) { _, _ in }
        let a = try await h.start()
        let b = try await h.start()
        try await h.advance(by: .seconds(5))
        #expect(h.sent.isEmpty)
        try await h.engine.execute(a.id, .dispatchNow(by: "op"))
        #expect(h.sent.filter { $0.0 == .dispatchRequested }.count == 1)
        let released = try await h.engine.releaseMassLapseHolds(by: "sup", actor: nil)
        #expect(released == 1)
        try await h.advance(by: Millis(200))
        #expect(h.sent.filter { $0.0 == .dispatchRequested }.count == 2)
        #expect(h.types(b.id).contains(.massLapseReleased))
    }

    @Test("the batched firing path (several due sessions in one group commit) counts lapses and holds too")
    func batched() async throws {
        let h = Harness(policy: Self.holdPolicy(hold: .seconds(10)))
        let alarms = Mutex<[Int]>([])
        await h.engine.setMassLapse(MassLapseSettings(sessions: 2, within: .seconds(10))) { count, _ in
            alarms.withLock { $0.append(count) }
        }
        var ids: [SessionID] = []
        for _ in 0..<4 { ids.append(try await h.start().id) }
        func advance(_ seconds: Int) async {
            for _ in 0..<(seconds * 10) {
                let due = h.time.advance(by: Millis(100))
                if !due.isEmpty { _ = await h.engine.fire(due) }
            }
        }
        await advance(3)
        await Self.waitFor { !alarms.withLock { $0.isEmpty } }
        // All four fell due together and are counted together before any is decided: the alarm says four.
        #expect(alarms.withLock { $0 } == [4])
        for id in ids { #expect(try await h.session(id).massLapseHoldUntil != nil, "\(id) is held") }
        await advance(9)
        #expect(!h.sent.contains { $0.0 == .dispatchRequested })
        await advance(2)
        #expect(h.sent.filter { $0.0 == .dispatchRequested }.count == 4)
    }
}
