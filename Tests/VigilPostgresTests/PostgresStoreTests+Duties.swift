import Foundation
import PostgresNIO
import Synchronization
import Testing

@testable import VigilCore
@testable import VigilPostgres

/// What the cluster decides once: duty leases, a duty's fenced state, the lapses in the log, console heartbeats.
extension PostgresStoreTests {
    @Test("eight instances taking one duty's lease at once: exactly one holds it, round after round")
    func oneHolderUnderContention() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                // A 3 s lease: the eight calls of a round fall well inside it even on a loaded machine, so any
                // second holder would be a second holder at the same time; 3.5 s later it has run out.
                for round in 0..<3 {
                    let holders = await withTaskGroup(of: String?.self) { group in
                        for i in 0..<8 {
                            group.addTask {
                                let g = try? await store.acquireLease(
                                    "mass-lapse", owner: "i\(i)", incarnation: 1, duration: Millis(3000))
                                return g == nil ? nil : "i\(i)"
                            }
                        }
                        var out: [String] = []
                        for await h in group { if let h { out.append(h) } }
                        return out
                    }
                    #expect(holders.count == 1, "round \(round): holders \(holders)")
                    // The lease runs out by the database's clock; the next round may go to anyone.
                    try await Task.sleep(for: .milliseconds(3500))
                }
            }
        }
    }

    @Test("a duty's state is written only by its holder in its epoch: a holder that lost the lease writes nothing")
    func fencedDutyState() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                let a = try #require(
                    try await store.acquireLease("mass-lapse", owner: "a", incarnation: 1, duration: Millis(3000)))
                #expect(try await store.saveDutyState("mass-lapse", "one", owner: "a", incarnation: 1, epoch: a.epoch))
                #expect(try await store.dutyState("mass-lapse") == "one")
                #expect(try await !store.saveDutyState("mass-lapse", "b's", owner: "b", incarnation: 1, epoch: a.epoch))
                // 3 s lease, 3.5 s later it has certainly run out (see namedLease for the margin).
                try await Task.sleep(for: .milliseconds(3500))
                #expect(
                    try await !store.saveDutyState("mass-lapse", "late", owner: "a", incarnation: 1, epoch: a.epoch))
                let b = try #require(
                    try await store.acquireLease("mass-lapse", owner: "b", incarnation: 1, duration: Millis(60_000)))
                #expect(b.epoch == a.epoch + 1)
                #expect(try await store.dutyState("mass-lapse") == "one", "the new holder takes the state up")
                #expect(try await !store.saveDutyState("mass-lapse", "a's", owner: "a", incarnation: 1, epoch: a.epoch))
                #expect(try await store.saveDutyState("mass-lapse", "two", owner: "b", incarnation: 1, epoch: b.epoch))
                #expect(try await store.dutyState("mass-lapse") == "two")
            }
        }
    }

    @Test("the lapses in the log are read after a cursor with their lapse time, not the time they were written")
    func lapsesFromTheLog() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                var seqs: [Int64] = []
                for n in 1...3 {
                    let s = Self.session(n)
                    let scheduled = Self.t0 + .seconds(Int64(n))
                    let started = EventData.EscalationStarted(
                        missedCheckInDueAt: scheduled - .seconds(30), scheduledAt: scheduled, lateMs: Millis(0),
                        steps: 1)
                    var snap = s
                    snap.version = 1
                    // Written 100 s after the lapse (an instance that was away).
                    let stored = try await store.commit(
                        CommitBatch(
                            session: snap, expectedVersion: nil, sessionID: s.id,
                            events: [
                                NewEvent(.sessionStarted, at: s.startedAt),
                                NewEvent(started, at: scheduled + .seconds(100)),
                            ], outbox: [], outboxUpdates: []))
                    seqs.append(stored[1].seq)
                }
                let all = try await store.lapses(after: 0, since: Self.t0, limit: 10)
                #expect(all.map(\.session.rawValue) == ["ses_test1", "ses_test2", "ses_test3"])
                #expect(all.map(\.at) == [Self.t0 + .seconds(1), Self.t0 + .seconds(2), Self.t0 + .seconds(3)])
                #expect(all.map(\.seq) == seqs)
                #expect(try await store.lapses(after: seqs[0], since: Self.t0, limit: 10).count == 2)
                #expect(try await store.lapses(after: 0, since: Self.t0, limit: 1).count == 1)
                #expect(try await store.lapses(after: 0, since: Self.t0 + .seconds(200), limit: 10).isEmpty)
            }
        }
    }

    @Test("consoles are summed over the instances whose heartbeat is fresh by the database's clock")
    func consolePresence() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                let fresh = Millis(1500)
                #expect(try await store.reportConsoles(instance: "a", consoles: 0, fresh: fresh) == 0)
                #expect(try await store.reportConsoles(instance: "b", consoles: 2, fresh: fresh) == 2)
                #expect(try await store.reportConsoles(instance: "a", consoles: 1, fresh: fresh) == 3)
                // b stops reporting (it died): 2 s later its heartbeat is stale, and only a's console counts.
                try await Task.sleep(for: .seconds(2))
                #expect(try await store.reportConsoles(instance: "a", consoles: 1, fresh: fresh) == 1)
                #expect(try await store.reportConsoles(instance: "a", consoles: -5, fresh: fresh) == 0)
            }
        }
    }
}
