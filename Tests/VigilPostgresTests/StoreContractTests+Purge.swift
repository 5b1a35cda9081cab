import Foundation
import Testing

@testable import VigilCore

extension StoreContractTests {
    @Test(
        "the retention purge empties every personal field of an ended session, the substance included",
        arguments: Kind.durable)
    func purgeEmptiesEveryPersonalField(kind: Kind) async throws {
        try await Self.with(kind) { store in
            var s = Self.session(20)
            s.substance = "fentanyl"
            s.responders = [Responder(name: "Sam", phone: "+15557654321", relation: "friend")]
            _ = try await Self.start(store, s)
            var ended = s
            ended.state = .ended
            ended.endedAt = Self.t0 + .seconds(10)
            ended.outcome = .safe
            ended.version = 2
            _ = try await store.commit(
                CommitBatch(
                    session: ended, expectedVersion: 1, sessionID: s.id,
                    events: [NewEvent(.sessionEnded, at: Self.t0 + .seconds(10))], outbox: [], outboxUpdates: []))
            #expect(try await store.purgeEnded(before: Self.t0 + .seconds(3600)) == 1)
            let purged = try #require(try await store.session(s.id))
            #expect(purged.substance == nil)
            #expect(purged.notes == nil)
            #expect(purged.responders == nil)
            #expect(purged.caller.callbackNumber == nil)
            #expect(purged.location.address == "")
            // What is not personal stays, for the anonymous figures.
            #expect(purged.outcome == .safe)
            #expect(purged.endedAt == Self.t0 + .seconds(10))
        }
    }
}
