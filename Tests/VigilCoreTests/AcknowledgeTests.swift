import Testing
import VigilCore
import VigilTestKit

/// An acknowledge pauses the ladder; it never silences a person for good.
@Suite("acknowledge and the end of its pause")
struct AcknowledgeTests {
    static let consoleOnly = Policy(name: "default", ackTimeout: .seconds(5), steps: [])
    static let oneNotify = Policy(
        name: "default", ackTimeout: .seconds(5), steps: [Step(after: .zero, action: .notify(["sup"]))])

    /// Starts a session (interval 2 s, grace 1 s) and lets it escalate.
    func escalated(_ h: Harness) async throws -> Session {
        let s = try await h.start()
        try await h.advance(by: Millis(3100))
        #expect(try await h.session(s.id).state == .escalating)
        return s
    }

    func resumes(_ h: Harness, _ id: SessionID) -> [StoredEvent] {
        h.store.allEvents.filter { $0.sessionID == id && $0.type == .escalationResumed }
    }

    @Test(
        "with no step at all, the pause's end alarms again, then every ack_timeout_s",
        arguments: [consoleOnly, oneNotify])
    func pauseEndAlarmsWithNoStepLeft(policy: Policy) async throws {
        let h = Harness(policy: policy)
        let s = try await escalated(h)
        try await h.engine.execute(s.id, .acknowledge(operator: "ana", note: nil))
        let acked = try await h.session(s.id)
        #expect(acked.nextDeadline == h.time.now() + .seconds(5), "an acknowledged session always has a deadline")
        try await h.advance(by: Millis(4900))
        #expect(resumes(h, s.id).isEmpty)
        try await h.advance(by: Millis(100))
        #expect(resumes(h, s.id).count == 1)
        #expect(resumes(h, s.id)[0].data["steps_left"]?.intValue == 0)
        // No step left: the alarm repeats every ack_timeout_s until something ends it.
        try await h.advance(by: Millis(4900))
        #expect(resumes(h, s.id).count == 1)
        try await h.advance(by: Millis(100))
        #expect(resumes(h, s.id).count == 2)
        #expect(resumes(h, s.id)[1].data["repeat"] == true)
        try await h.advance(by: .seconds(5))
        #expect(resumes(h, s.id).count == 3)
        #expect(try await h.session(s.id).state == .escalating)
    }

    @Test("a second acknowledge pauses again, and its end alarms again")
    func acknowledgedTwice() async throws {
        let h = Harness(policy: Self.consoleOnly)
        let s = try await escalated(h)
        try await h.engine.execute(s.id, .acknowledge(operator: "ana", note: nil))
        try await h.advance(by: .seconds(5))
        #expect(resumes(h, s.id).count == 1)
        try await h.advance(by: .seconds(2))
        try await h.engine.execute(s.id, .acknowledge(operator: "ben", note: nil))
        // The repeat that was due 3 s later is replaced by the new pause's end, 5 s from the acknowledge.
        try await h.advance(by: Millis(4900))
        #expect(resumes(h, s.id).count == 1)
        try await h.advance(by: Millis(100))
        #expect(resumes(h, s.id).count == 2)
        #expect(resumes(h, s.id)[1].data["repeat"] == nil)
        #expect(
            h.types(s.id) == [
                .sessionStarted, .checkInOverdue, .escalationStarted, .escalationAcknowledged, .escalationResumed,
                .escalationAcknowledged, .escalationResumed,
            ])
    }

    @Test("a check-in, a dispatch or an end stops the repeating alarm")
    func repeatStops() async throws {
        for ender in ["check-in", "end"] {
            let h = Harness(policy: Self.consoleOnly)
            let s = try await escalated(h)
            try await h.engine.execute(s.id, .acknowledge(operator: "ana", note: nil))
            try await h.advance(by: .seconds(5))
            if ender == "check-in" {
                try await h.engine.execute(s.id, .checkIn(source: .caller, note: nil))
            } else {
                try await h.engine.execute(s.id, .end(outcome: .safe, by: "ana", note: nil))
            }
            try await h.advance(by: .seconds(20))
            #expect(resumes(h, s.id).count == 1, "\(ender)")
        }
        let h = Harness()
        let s = try await escalated(h)
        try await h.engine.execute(s.id, .acknowledge(operator: "ana", note: nil))
        try await h.engine.execute(s.id, .dispatchNow(by: "ana"))
        try await h.deliver(.dispatchRequested)
        try await h.advance(by: .seconds(20))
        #expect(resumes(h, s.id).isEmpty)
        #expect(try await h.session(s.id).nextDeadline == nil)
    }

    @Test("the pause's end and the repeating alarm survive a restart")
    func survivesRestart() async throws {
        let h = Harness(policy: Self.consoleOnly)
        let s = try await escalated(h)
        try await h.engine.execute(s.id, .acknowledge(operator: "ana", note: nil))
        // A new engine over the same store (the process restarted) re-arms the pause's end.
        func restart() async throws -> SessionEngine {
            let engine = SessionEngine(
                store: h.store, scheduler: h.time, clock: h.time, policies: ["default": Self.consoleOnly],
                observer: RecordingObserver())
            h.time.disarm(s.id)
            #expect(try await engine.recover() == 1)
            return engine
        }
        let restarted = try await restart()
        // Read from the store: the first engine's cache is the dead process's memory.
        let pausedUntil = try await h.store.session(s.id)?.escalation?.pausedUntil
        #expect(pausedUntil != nil)
        #expect(h.time.deadline(of: s.id) == pausedUntil)
        h.time.set(h.time.now() + .seconds(5))
        try await restarted.fire(s.id)
        #expect(resumes(h, s.id).count == 1)
        // And again after the first alarm: the repeat is a stored deadline too.
        let again = try await restart()
        let next = try await h.store.session(s.id)?.escalation?.realarmAt
        #expect(next == h.time.now() + .seconds(5))
        #expect(h.time.deadline(of: s.id) == next)
        h.time.set(h.time.now() + .seconds(5))
        try await again.fire(s.id)
        #expect(resumes(h, s.id).count == 2)
    }

    @Test("an acknowledge while only overdue, with no step, still alarms when the pause ends")
    func acknowledgeWhileOverdue() async throws {
        let h = Harness(policy: Self.consoleOnly)
        let s = try await h.start()
        try await h.advance(by: Millis(2100))
        #expect(try await h.session(s.id).state == .overdue)
        try await h.engine.execute(s.id, .acknowledge(operator: "ana", note: nil))
        try await h.advance(by: .seconds(5))
        #expect(resumes(h, s.id).count == 1)
        #expect(try await h.session(s.id).state == .escalating)
        try await h.advance(by: .seconds(5))
        #expect(resumes(h, s.id).count == 2)
    }
}
