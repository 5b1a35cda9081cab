import Testing
import VigilCore
import VigilTestKit

/// Loose ends of the closed loop: a follow-up that falls due is reminded, a friend's answer gets a follow-up, and a
/// partner that drops an accepted call with no crew on scene raises an alarm.
@Suite("loose ends of the closed loop")
struct LooseEndsTests {
    @Test("an open follow-up that falls due raises follow_up.due once, and is listed as due")
    func followUpDue() async throws {
        let h = ClosedLoopTests.harness()
        let id = try await ClosedLoopTests.dispatched(h)
        let due = try #require(try await h.session(id).followUp?.dueAt)
        #expect(due > h.time.now())
        try await h.engine.execute(id, .end(outcome: .emsAttended, by: "op", note: nil))
        #expect(await h.engine.remindDueFollowUps() == 0, "not due yet")
        h.time.set(due - Millis(1))
        #expect(await h.engine.remindDueFollowUps() == 0)
        #expect(!(try await h.session(id).followUp!.isDue(at: h.time.now())))
        h.time.set(due)
        #expect(await h.engine.remindDueFollowUps() == 1)
        #expect(h.types(id).filter { $0 == .followUpDue }.count == 1)
        #expect(try await h.session(id).followUp!.isDue(at: h.time.now()))
        h.time.set(due + .seconds(600))
        #expect(await h.engine.remindDueFollowUps() == 0, "reminded once")
        #expect(h.types(id).filter { $0 == .followUpDue }.count == 1)
        // Closed, it is no longer due.
        try await h.engine.execute(id, .closeFollowUp(.revived, naloxoneUsed: true, note: nil, by: "op"))
        #expect(!(try await h.session(id).followUp!.isDue(at: h.time.now())))
    }

    @Test("a responder's going or ok gets a follow-up, due follow_up.after_s later")
    func friendHandled() async throws {
        for answer in [ResponderAnswer.going, .ok] {
            var policy = ResponderTests.policy()
            policy.followUpAfter = .seconds(7200)
            let h = Harness(policy: policy)
            let s = try await h.start(ResponderTests.request(1))
            try await h.advance(by: .seconds(3))
            #expect(try await h.session(s.id).followUp == nil)
            try await ResponderTests.answer(h, attempt: 1, answer)
            let f = try #require(try await h.session(s.id).followUp, "\(answer) creates a follow-up")
            #expect(f.dueAt == h.time.now() + .seconds(7200))
            let created = h.store.allEvents.last { $0.sessionID == s.id && $0.type == .followUpCreated }
            #expect(created?.data["because"]?.stringValue == "responder_\(answer.rawValue)")
        }
    }

    @Test("rejected or closed after accepted, with no crew on scene, raises dispatch.dropped once; after on_scene not")
    func droppedAfterAccept() async throws {
        for status in [DispatchStatus.rejected, .closed] {
            let h = ClosedLoopTests.harness()
            let id = try await ClosedLoopTests.dispatched(h)
            try await h.engine.execute(id, .dispatchStatus(.accepted, reference: "CAD-1", by: "ems"))
            #expect(!h.types(id).contains(.dispatchDropped))
            try await h.engine.execute(id, .dispatchStatus(status, reference: nil, by: "ems"))
            #expect(h.types(id).filter { $0 == .dispatchDropped }.count == 1, "\(status)")
            let e = h.store.allEvents.last { $0.type == .dispatchDropped }
            #expect(e?.data["target"]?.stringValue == "ems")
            #expect(e?.data["alarm"] == .bool(true))
            // Its arrival timer gave way to this alarm: no arrival_overdue later.
            try await h.advance(by: .seconds(60))
            #expect(!h.types(id).contains(.dispatchArrivalOverdue))
        }
        let h = ClosedLoopTests.harness()
        let id = try await ClosedLoopTests.dispatched(h)
        try await h.engine.execute(id, .dispatchStatus(.accepted, reference: "CAD-1", by: "ems"))
        try await h.engine.execute(id, .dispatchStatus(.onScene, reference: nil, by: "ems"))
        try await h.engine.execute(id, .dispatchStatus(.closed, reference: nil, by: "ems"))
        #expect(!h.types(id).contains(.dispatchDropped), "a crew was on scene: closing is the normal end")
    }
}
