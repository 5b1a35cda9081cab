import Testing
import VigilCore
import VigilTestKit

/// Two engines over one store, as two instances over one database: a link made on one works on the other at once,
/// before the other has read the log.
@Suite("fresh links on another instance")
struct LinkFallbackTests {
    static func other(_ h: Harness, _ policy: Policy) -> SessionEngine {
        SessionEngine(
            store: h.store, scheduler: ManualTime(), clock: h.time, policies: [policy.name: policy],
            observer: RecordingObserver())
    }

    @Test("a check-in link from a start on one engine works on another that has not heard of the session")
    func checkInLink() async throws {
        let h = Harness()
        let b = Self.other(h, Harness.ladder)
        let s = try await h.start()
        let found = try #require(await b.session(token: s.checkInToken))
        #expect(found.id == s.id)
        try await b.execute(s.id, .checkIn(source: .caller, note: nil))
        #expect(h.types(s.id).filter { $0 == .checkInReceived }.count == 1)
        #expect(await b.session(token: "not-a-token-of-any-session") == nil)
    }

    @Test("a responder's link made by one engine's ladder works on another that has not heard of the session")
    func responderLink() async throws {
        let policy = ResponderTests.policy()
        let h = Harness(policy: policy)
        let b = Self.other(h, policy)
        let s = try await h.start(ResponderTests.request(1))
        try await h.advance(by: .seconds(3))
        let token = try ResponderTests.token(h, attempt: 1)
        let found = try #require(await b.session(responderToken: token))
        #expect(found.0.id == s.id)
        #expect(found.1 == 0)
    }
}
