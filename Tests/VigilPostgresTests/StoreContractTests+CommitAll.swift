import Testing
import VigilCore

extension StoreContractTests {
    @Test(
        "commitAll of a burst: every batch written, a stale one failing alone, results and sequence numbers in order",
        arguments: Kind.allCases)
    func commitAllBurst(kind: Kind) async throws {
        try await Self.with(kind) { store in
            // More batches than one PostgreSQL transaction carries, so the burst spans several.
            let n = 150
            var sessions: [Session] = []
            for i in 0..<n {
                var s = Self.session(1000 + i)
                _ = try await Self.start(store, s)
                s.version = 2
                sessions.append(s)
            }
            let stale = 77
            let batches = sessions.enumerated().map { (i, s) in
                CommitBatch(
                    session: s, expectedVersion: i == stale ? 9 : 1, sessionID: s.id,
                    events: [NewEvent(.checkInOverdue, at: s.startedAt)],
                    outbox: [Self.item(5000 + i, s.id)], outboxUpdates: [])
            }
            let results = await store.commitAll(batches)
            #expect(results.count == n)
            var last: Int64 = 0
            for (i, r) in results.enumerated() {
                if i == stale {
                    guard case .failure(let e as VigilError) = r else {
                        Issue.record("the stale batch was written")
                        continue
                    }
                    #expect(e.code == .conflict)
                    continue
                }
                let events = try r.get()
                #expect(events.count == 1 && events.first?.sessionID == sessions[i].id)
                let seq = events.first?.seq ?? 0
                #expect(seq > last, "batch \(i) numbered \(seq) after \(last)")
                last = seq
            }
            #expect(try await store.session(sessions[stale].id)?.version == 1)
            #expect(try await store.events(of: sessions[stale].id).map(\.type) == [.sessionStarted])
            for i in [0, 63, 64, 65, 128, n - 1] {
                #expect(try await store.session(sessions[i].id)?.version == 2)
                #expect(try await store.events(of: sessions[i].id).map(\.type) == [.sessionStarted, .checkInOverdue])
            }
            let due = try await store.dueNotifications(at: Self.t0, limit: 1000)
            #expect(due.count == n - 1)
        }
    }
}
