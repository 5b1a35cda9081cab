import Testing
import VigilCore
import VigilPostgres
import VigilStore

extension StoreContractTests {
    @Test("the alive mark keeps the latest moment noted; nil before the first", arguments: Kind.durable)
    func aliveMarks(_ kind: Kind) async throws {
        try await Self.with(kind) { store in
            let marks = try #require(store as? any AliveMarks)
            #expect(try await marks.lastAlive() == nil)
            try await marks.markAlive(at: Self.t0)
            #expect(try await marks.lastAlive() == Self.t0)
            try await marks.markAlive(at: Self.t0 + .seconds(5))
            // An instance whose mark comes late (an earlier moment) does not move it back.
            try await marks.markAlive(at: Self.t0 + .seconds(2))
            #expect(try await marks.lastAlive() == Self.t0 + .seconds(5))
        }
    }

    @Test("canary sessions are in no listing, on either store", arguments: Kind.allCases)
    func canariesUnlisted(_ kind: Kind) async throws {
        try await Self.with(kind) { store in
            var c = Self.session(1)
            c.id = SessionID(rawValue: Canary.idPrefix + "abc")
            var s = Self.session(2)
            s.id = SessionID(rawValue: "ses_abc")
            for x in [c, s] {
                _ = try await store.commit(
                    CommitBatch(
                        session: x, expectedVersion: nil, sessionID: x.id, events: [], outbox: [], outboxUpdates: []))
            }
            for filter in [SessionFilter.all, .open, .state(.active)] {
                #expect(try await store.sessions(filter, limit: 10).map(\.id) == [s.id], "\(filter)")
            }
            #expect(try await store.session(c.id) != nil, "still readable by its id")
        }
    }
}
