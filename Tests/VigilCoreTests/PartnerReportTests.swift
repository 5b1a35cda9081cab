import Testing
import VigilCore
import VigilTestKit

/// A partner's `dispatch-status` speaks for its own target only, and only about a dispatch that target received;
/// each target's reports count for that target alone.
@Suite("partner reports, per target")
struct PartnerReportTests {
    static func harness() -> Harness {
        Harness(
            policy: Policy(
                name: "default", ackTimeout: .seconds(5),
                steps: [Step(after: .zero, action: .dispatch(["ems", "ems2"]))], onDeliveryFailure: ["alarm"]))
    }

    /// A session whose dispatch went to `ems` and was answered 2xx.
    static func dispatched(_ h: Harness) async throws -> SessionID {
        let s = try await h.start()
        try await h.advance(by: .seconds(3))
        try await h.deliver(.dispatchRequested)
        return s.id
    }

    @Test("a backup the dispatch never reached cannot report on it, nor can a target outside the step")
    func unreachedRefused() async throws {
        let h = Self.harness()
        let id = try await Self.dispatched(h)
        for target: TargetName in ["ems2", "elsewhere"] {
            await #expect(throws: VigilError.self) {
                try await h.engine.execute(id, .dispatchStatus(.closed, reference: nil, by: target))
            }
        }
        #expect(try await h.session(id).dispatch?.reports == nil)
        #expect(!h.types(id).contains(.dispatchStatus))
    }

    @Test("a backup may report once its turn came, even before its 2xx reached us")
    func reachedBackupReports() async throws {
        let h = Self.harness()
        let s = try await h.start()
        try await h.advance(by: .seconds(3))
        await #expect(throws: VigilError.self) {
            try await h.engine.execute(s.id, .dispatchStatus(.accepted, reference: nil, by: "ems2"))
        }
        try await h.fail(.dispatchRequested, targetIndex: 0)
        try await h.engine.execute(s.id, .dispatchStatus(.accepted, reference: "CAD-2", by: "ems2"))
        #expect(try await h.session(s.id).dispatch?.reports?.map(\.target) == ["ems2"])
        #expect(try await h.session(s.id).dispatch?.sentTo == ["ems", "ems2"])
    }

    @Test("one target's closed does not spare another target the cancel it is owed")
    func closedIsPerTarget() async throws {
        let h = Self.harness()
        let id = try await Self.dispatched(h)
        // ems refuses: it is cancelled and ems2 gets the dispatch and answers 2xx; then ems closes its own incident.
        try await h.engine.execute(id, .dispatchStatus(.rejected, reference: nil, by: "ems"))
        try await h.deliver(.dispatchRequested)
        try await h.engine.execute(id, .dispatchStatus(.closed, reference: nil, by: "ems"))
        let before = h.sent.count
        try await h.engine.execute(id, .end(outcome: .safe, by: "ana", note: nil))
        let after = h.sent.dropFirst(before)
        #expect(after.map(\.0) == [.dispatchCancelled])
        #expect(after.map(\.1) == [["ems2"]])
    }

    @Test("a target that reported closed itself gets no cancel when the session ends")
    func closedTargetSpared() async throws {
        let h = Self.harness()
        let id = try await Self.dispatched(h)
        try await h.engine.execute(id, .dispatchStatus(.closed, reference: nil, by: "ems"))
        let before = h.sent.count
        try await h.engine.execute(id, .end(outcome: .safe, by: "ana", note: nil))
        #expect(h.sent.dropFirst(before).filter { $0.0 == .dispatchCancelled }.isEmpty)
    }
}
