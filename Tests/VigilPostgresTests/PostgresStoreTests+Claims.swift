import Foundation
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing
import VigilCore

@testable import VigilPostgres

/// Claims, leases and due sessions among several owners.
extension PostgresStoreTests {
    @Test("two owners claiming concurrently never get the same notification")
    func claimsAreExclusive() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { a in
                try await Self.withStore(cluster, db) { b in
                    let s = Self.session(5)
                    _ = try await Self.insert(store: a, s, items: (0..<120).map { Self.item($0, session: s.id) })
                    func drain(_ store: PostgresStore, _ owner: String) async throws -> [String] {
                        var got: [String] = []
                        while true {
                            let claimed = try await store.claimDueNotifications(
                                owner: owner, incarnation: 1, at: Self.t0, lease: .seconds(60), limit: 5)
                            if claimed.isEmpty { return got }
                            got += claimed.map(\.id.rawValue)
                        }
                    }
                    async let fromA = drain(a, "instance-a")
                    async let fromB = drain(b, "instance-b")
                    let (x, y) = try await (fromA, fromB)
                    #expect(Set(x).isDisjoint(with: Set(y)))
                    #expect(x.count + y.count == 120)
                    #expect(Set(x + y).count == 120)
                }
            }
        }
    }

    @Test("an expired lease is taken over by another owner; a live one is not")
    func expiredLeaseTakenOver() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                let s = Self.session(6)
                _ = try await Self.insert(store: store, s, items: [Self.item(1, session: s.id)])
                let first = try await store.claimDueNotifications(
                    owner: "a", incarnation: 1, at: Self.t0, lease: Millis(300), limit: 10)
                #expect(first.map(\.id.rawValue) == ["ntf_1"])
                #expect(
                    try await store.claimDueNotifications(
                        owner: "b", incarnation: 1, at: Self.t0, lease: .seconds(60), limit: 10
                    ).isEmpty)
                // Not due yet is never claimed, whoever asks.
                #expect(
                    try await store.claimDueNotifications(
                        owner: "a", incarnation: 9, at: Self.t0 - .seconds(1), lease: .seconds(60), limit: 10
                    ).isEmpty)
                try await Task.sleep(for: .milliseconds(600))
                let taken = try await store.claimDueNotifications(
                    owner: "b", incarnation: 1, at: Self.t0, lease: .seconds(60), limit: 10)
                #expect(taken.map(\.id.rawValue) == ["ntf_1"])
                // The late holder's write is fenced off; the new holder's goes through and frees the row.
                let update = OutboxUpdate(
                    id: NotificationID(rawValue: "ntf_1"), status: .pending, targetIndex: 0, attempts: 1,
                    nextAttemptAt: Self.t0)
                #expect(try await store.recordAttempts([update], owner: "a", incarnation: 1) == [false])
                #expect(try await store.recordAttempts([update], owner: "b", incarnation: 1) == [true])
                let again = try await store.claimDueNotifications(
                    owner: "a", incarnation: 1, at: Self.t0, lease: .seconds(60), limit: 10)
                #expect(again.map(\.attempts) == [1])
            }
        }
    }

    @Test("a restarted instance (same owner, higher incarnation) takes back its own claims at once")
    func restartTakesBackOwnClaims() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                let s = Self.session(7)
                _ = try await Self.insert(store: store, s, items: (0..<3).map { Self.item($0, session: s.id) })
                func claim(_ owner: String, _ inc: Int64) async throws -> [String] {
                    try await store.claimDueNotifications(
                        owner: owner, incarnation: inc, at: Self.t0, lease: .seconds(60), limit: 10
                    ).map(\.id.rawValue)
                }
                #expect(try await claim("a", 1).count == 3)
                #expect(try await claim("a", 1).isEmpty)
                #expect(try await claim("b", 1).isEmpty)
                #expect(try await claim("a", 2).count == 3)
                #expect(try await claim("a", 1).isEmpty)
                #expect(try await claim("b", 5).isEmpty)
                #expect(try await store.releaseClaims(owner: "a", incarnation: 2) == 3)
                #expect(try await claim("b", 5).count == 3)
            }
        }
    }

    @Test("due sessions are claimed by PostgreSQL's clock, by one owner each; a restart or a commit frees them")
    func sessionClaims() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { a in
                try await Self.withStore(cluster, db) { b in
                    // The test's timestamps are far in the future; these are made from the real clock.
                    let now = Timestamp(millis: Int64(Date().timeIntervalSince1970 * 1000))
                    var due: [SessionID] = []
                    for i in 0..<12 {
                        var s = Self.session(300 + i)
                        s.startedAt = now - .seconds(120)
                        s.due = now - .seconds(60)
                        due.append(s.id)
                        _ = try await Self.insert(a, s)
                    }
                    for i in 0..<3 {
                        var s = Self.session(400 + i)
                        s.startedAt = now
                        s.due = now + .seconds(3600)
                        _ = try await Self.insert(a, s)
                    }
                    func drain(_ store: PostgresStore, _ owner: String) async throws -> [SessionID] {
                        var got: [SessionID] = []
                        while true {
                            let claimed = try await store.claimDueSessions(
                                owner: owner, incarnation: 1, lease: .seconds(60), limit: 2)
                            if claimed.isEmpty { return got }
                            got += claimed.map(\.id)
                        }
                    }
                    async let fromA = drain(a, "a")
                    async let fromB = drain(b, "b")
                    let (x, y) = try await (fromA, fromB)
                    #expect(Set(x).isDisjoint(with: Set(y)))
                    #expect(Set(x + y) == Set(due))
                    #expect(x.count + y.count == due.count)
                    // A restart of b takes its own back at once; a still holds its own.
                    let back = try await b.claimDueSessions(owner: "b", incarnation: 2, lease: .seconds(60), limit: 100)
                    #expect(Set(back.map(\.id)) == Set(y))
                    // A commit on a claimed session gives the claim up.
                    if let first = x.first, var s = try await a.session(first) {
                        s.version = 2
                        _ = try await a.commit(
                            CommitBatch(
                                session: s, expectedVersion: 1, sessionID: s.id, events: [], outbox: [],
                                outboxUpdates: []))
                        let freed = try await b.claimDueSessions(
                            owner: "b", incarnation: 2, lease: .seconds(60), limit: 100)
                        #expect(freed.map(\.id) == [first])
                    }
                    #expect(try await a.releaseClaims(owner: "a", incarnation: 1) == x.count - 1)
                }
            }
        }
    }

    @Test(
        "a storage URL with a password, without a user or database, or cleartext off loopback is refused",
        arguments: [
            "postgres://vigil:secret@127.0.0.1:5432/vigil", "postgres://127.0.0.1/vigil", "postgres://vigil@127.0.0.1/",
            "postgres://vigil@db.example.org/vigil", "mysql://vigil@127.0.0.1/vigil", "postgres://vigil@127.0.0.1:0/v",
            "postgres://vigil@127.0.0.1:99999/v", "", "postgres://vigil@127.0.0.1/v?sslmode=disable",
        ])
    func badURLs(_ url: String) {
        #expect(throws: VigilError.self) { _ = try PostgresStoreConfiguration(url: url, password: "p") }
    }

    @Test("a storage URL gives host, port, user and database; off loopback it needs TLS")
    func goodURLs() throws {
        let c = try PostgresStoreConfiguration(url: "postgres://vigil@127.0.0.1:6543/monitor", password: "p")
        #expect(c.host == "127.0.0.1" && c.port == 6543 && c.username == "vigil" && c.database == "monitor")
        #expect(c.password == "p")
        let tls = try PostgresStoreConfiguration(
            url: "postgresql://vigil@db.example.org/vigil", password: nil, tls: .verifyFull(caFile: "/ca.pem"))
        #expect(tls.port == 5432 && tls.tls == .verifyFull(caFile: "/ca.pem"))
    }

    @Test("a named lease has one holder; it passes on expiry or to its holder's restart, with a new epoch")
    func namedLease() async throws {
        try await withCluster { cluster in
            let db = try await cluster.createDatabase()
            try await Self.withStore(cluster, db) { store in
                func take(_ owner: String, _ inc: Int64, _ ms: Int64 = 60_000) async throws -> LeaseGrant? {
                    try await store.acquireLease("scheduler", owner: owner, incarnation: inc, duration: Millis(ms))
                }
                // A 3 s lease: the calls below, even on a loaded 2-core machine, are well inside it (each is a
                // few milliseconds; a 300 ms lease was seen to lapse between two of them), and 3.5 s later it
                // has certainly lapsed, the database's clock being the only one that counts.
                let first = try await take("a", 1, 3000)
                #expect(first?.epoch == 1)
                #expect((first?.remaining.value ?? 0) > 2000 && (first?.remaining.value ?? 0) <= 3000)
                #expect(try await take("b", 1) == nil)
                #expect(try await take("a", 1, 3000)?.epoch == 1)
                try await Task.sleep(for: .milliseconds(3500))
                #expect(try await take("b", 1)?.epoch == 2)
                #expect(try await take("a", 1) == nil)
                #expect(try await take("a", 2) == nil)
                #expect(try await take("b", 2)?.epoch == 3)
                #expect(try await take("b", 1) == nil)
            }
        }
    }
}
