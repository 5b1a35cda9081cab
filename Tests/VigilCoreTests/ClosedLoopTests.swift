import Testing
import VigilCore
import VigilTestKit

@Suite("the closed dispatch loop")
struct ClosedLoopTests {
    static func harness(accept: Millis? = .seconds(10), arrival: Millis? = .seconds(30)) -> Harness {
        var policy = Policy(
            name: "default", ackTimeout: .seconds(5),
            steps: [Step(after: .zero, action: .dispatch(["ems", "ems2"]))], onDeliveryFailure: ["alarm"])
        policy.loops = ["ems": LoopTimeouts(accept: accept, arrival: arrival), "ems2": LoopTimeouts(accept: accept)]
        policy.followUpAfter = .seconds(3600)
        return Harness(policy: policy)
    }

    /// Starts a session, lets it lapse and has `ems` answer 2xx.
    static func dispatched(_ h: Harness) async throws -> SessionID {
        let s = try await h.start()
        try await h.advance(by: .seconds(3))
        try await h.deliver(.dispatchRequested)
        return s.id
    }

    @Test("no accepted within accept_timeout_s: the next target gets the dispatch, the first a cancel")
    func unacceptedFailsOver() async throws {
        let h = Self.harness()
        let id = try await Self.dispatched(h)
        #expect(try await h.session(id).nextDeadline != nil)
        try await h.advance(by: Millis(9900))
        #expect(!h.types(id).contains(.dispatchUnaccepted))
        try await h.advance(by: Millis(200))
        #expect(h.types(id).contains(.dispatchUnaccepted))
        #expect(h.sent.suffix(2).map(\.0) == [.dispatchCancelled, .dispatchRequested])
        #expect(h.sent.suffix(2).map(\.1) == [["ems"], ["ems2"]])
        // The failover's 2xx, then its acceptance: the loop is closed.
        try await h.deliver(.dispatchRequested)
        try await h.engine.execute(id, .dispatchStatus(.accepted, reference: "CAD-1", by: "ems2"))
        let s = try await h.session(id)
        #expect(s.dispatch?.deliveries?.map(\.target) == ["ems", "ems2"])
        #expect(s.dispatch?.deliveries?.first?.cancelledAt != nil)
        #expect(s.dispatch?.reports?.map(\.status) == [.accepted])
        #expect(s.nextDeadline == nil)
    }

    @Test("a rejected report moves the dispatch on at once; with none left, delivery.failed")
    func rejectedThenNoneLeft() async throws {
        let h = Self.harness()
        let id = try await Self.dispatched(h)
        try await h.engine.execute(id, .dispatchStatus(.rejected, reference: nil, by: "ems"))
        #expect(h.sent.last.map { $0.0 } == .dispatchRequested)
        #expect(h.sent.last?.1 == ["ems2"])
        try await h.deliver(.dispatchRequested)
        try await h.advance(by: .seconds(11))
        #expect(h.types(id).filter { $0 == .dispatchUnaccepted }.count == 2)
        #expect(h.types(id).last == .deliveryFailed)
        #expect(h.sent.last?.1 == ["alarm"])
    }

    @Test("an accepted from a target the dispatch moved on from is recorded and alarmed")
    func lateAcceptance() async throws {
        let h = Self.harness()
        let id = try await Self.dispatched(h)
        try await h.advance(by: .seconds(11))
        try await h.engine.execute(id, .dispatchStatus(.accepted, reference: nil, by: "ems"))
        #expect(h.types(id).last == .dispatchAcceptedLate)
        #expect(try await h.session(id).dispatch?.reports?.count == 1)
    }

    @Test("no on_scene within arrival_timeout_s after accepted raises dispatch.arrival_overdue, once")
    func arrivalOverdue() async throws {
        let h = Self.harness()
        let id = try await Self.dispatched(h)
        try await h.engine.execute(id, .dispatchStatus(.accepted, reference: nil, by: "ems"))
        try await h.advance(by: .seconds(29))
        #expect(!h.types(id).contains(.dispatchArrivalOverdue))
        try await h.advance(by: .seconds(2))
        try await h.advance(by: .seconds(60))
        #expect(h.types(id).filter { $0 == .dispatchArrivalOverdue }.count == 1)
        try await h.engine.execute(id, .dispatchStatus(.onScene, reference: nil, by: "ems"))
        #expect(try await h.session(id).dispatch?.reports?.map(\.status) == [.accepted, .onScene])
    }

    @Test("with no timeouts configured the loop stays open: no deadline after the 2xx")
    func offByDefault() async throws {
        let h = Self.harness(accept: nil, arrival: nil)
        let id = try await Self.dispatched(h)
        #expect(try await h.session(id).nextDeadline == nil)
    }

    @Test("a dispatch creates one follow-up; it closes once with an outcome")
    func followUp() async throws {
        let h = Self.harness()
        let id = try await Self.dispatched(h)
        let f = try #require(try await h.session(id).followUp)
        #expect(f.dueAt == f.createdAt + .seconds(3600))
        #expect(FollowUp.session(of: f.id) == id)
        try await h.engine.execute(id, .end(outcome: .emsAttended, by: "ana", note: nil))
        #expect(try await h.session(id).followUp == f)
        try await h.engine.execute(id, .closeFollowUp(.revived, naloxoneUsed: true, note: "ok", by: "ana"))
        #expect(try await h.session(id).followUp?.outcome == .revived)
        await #expect(throws: VigilError.self) {
            try await h.engine.execute(id, .closeFollowUp(.other, naloxoneUsed: nil, note: nil, by: "ana"))
        }
        let report = SummaryReport.count(h.store.allEvents, from: nil, to: nil)
        #expect(report.dispatches == 1)
        #expect(report.dispatchesAccepted == 0)
        #expect(report.followUpOutcomes == ["revived": 1])
        #expect(report.naloxoneUsed == 1)
        #expect(report.outcomes == ["ems_attended": 1])
        #expect(report.lapses == 1)
        #expect(report.sessions == 1)
    }

    @Test("an ems_attended end creates a follow-up without a dispatch; a safe end creates none")
    func followUpOnEnd() async throws {
        let h = Self.harness()
        let a = try await h.start()
        let b = try await h.start()
        try await h.engine.execute(a.id, .end(outcome: .emsAttended, by: "ana", note: nil))
        try await h.engine.execute(b.id, .end(outcome: .safe, by: "ana", note: nil))
        #expect(try await h.session(a.id).followUp?.state == "open")
        #expect(try await h.session(b.id).followUp == nil)
        #expect(h.types(a.id).suffix(2) == [.followUpCreated, .sessionEnded])
    }

    @Test("a dispatch step left with no target (route unresolved, nothing else) fails at once into delivery.failed")
    func emptyStepFails() async throws {
        var policy = Policy(
            name: "default", ackTimeout: .seconds(5), steps: [Step(after: .zero, action: .dispatch(["route"]))],
            onDeliveryFailure: ["alarm"])
        policy.followUpAfter = nil
        let h = Harness(policy: policy)
        await h.engine.setRouting(RouteTable([]), targets: ["alarm"])
        let s = try await h.start()
        try await h.advance(by: .seconds(3))
        #expect(h.types(s.id).suffix(3) == [.routingUnresolved, .dispatchRequested, .deliveryFailed])
        #expect(h.sent.map(\.1) == [["alarm"]])
        #expect(try await h.session(s.id).deliveryFailures == 1)
    }

    @Test("the summary's medians run from the missed deadline to the first 2xx and the first accepted")
    func medians() {
        #expect(SummaryReport.medianSeconds([]) == nil)
        #expect(SummaryReport.medianSeconds([3000, 1000, 2000]) == 2)
        #expect(SummaryReport.medianSeconds([1000, 2000]) == 2)
    }
}
