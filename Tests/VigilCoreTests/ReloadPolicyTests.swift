import Testing
import VigilCore

@Suite("reloading policies: open sessions keep theirs")
struct ReloadPolicyTests {
    @Test("an open session keeps the policy it started with when the policies are replaced")
    func openSessionKeepsItsPolicy() async throws {
        let h = Harness()
        let s = try await h.start()
        let quiet = Policy(name: "default", ackTimeout: .seconds(5), steps: [])
        await h.engine.setPolicies(["default": quiet])
        try await h.advance(by: .seconds(3))
        // Due at 2 s, grace 1 s: the old ladder's first step notified sup.
        #expect(h.sent.map(\.1) == [[Harness.sup]])
        let later = try await h.start()
        #expect(try await h.session(later.id).policy == quiet)
        #expect(try await h.session(s.id).policy == Harness.ladder)
    }

    @Test("a policy gap names each open session whose policy names a target a new configuration lacks")
    func gapsNameSessionAndTarget() async throws {
        let h = Harness()
        let s = try await h.start()
        #expect(await h.engine.policyGaps(against: [Harness.sup, Harness.ems, Harness.ems2, Harness.alarm]).isEmpty)
        let gaps = await h.engine.policyGaps(against: [Harness.sup, Harness.ems, Harness.alarm])
        #expect(gaps == [PolicyTargetGap(session: s.id, policy: "default", target: Harness.ems2)])
        _ = try await h.engine.execute(s.id, .end(outcome: .safe, by: "op", note: nil))
        #expect(await h.engine.policyGaps(against: []).isEmpty, "an ended session holds nothing back")
    }

    @Test("the word route in a dispatch step is not a target")
    func routeWordIsNotATarget() {
        let p = Policy(
            name: "p", ackTimeout: .seconds(5), steps: [Step(after: .zero, action: .dispatch([RouteTable.word, "b"]))])
        #expect(p.namedTargets == ["b"])
    }
}
