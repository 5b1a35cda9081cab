import Foundation
import Testing
import VigilCore
import VigilStore

/// Idempotency keys and fresh link tokens: the same rule on every store (see `IdempotencyStore`, `LinkDirectory`).
extension StoreContractTests {
    static func keys(_ store: any SessionStore) throws -> any IdempotencyStore & LinkDirectory {
        try #require(store as? any IdempotencyStore & LinkDirectory)
    }

    static let entry = IdempotencyEntry.of(scope: "token:console", key: "k-1", fingerprint: "f-1")
    static let answer = IdempotentResponse(
        status: 201, contentType: "application/json", body: Array(#"{"address":"1 Main St"}"#.utf8))

    @Test(
        "a key is claimed once: a repeat is in progress, then gets the first answer; another request is a mismatch",
        arguments: Kind.allCases)
    func claimOnce(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let keys = try Self.keys(store)
            #expect(try await keys.claimIdempotency(Self.entry, at: Self.t0) == .claimed)
            #expect(try await keys.claimIdempotency(Self.entry, at: Self.t0 + .seconds(1)) == .inProgress)
            try await keys.completeIdempotency(Self.entry, response: Self.answer)
            #expect(try await keys.claimIdempotency(Self.entry, at: Self.t0 + .seconds(2)) == .completed(Self.answer))
            var other = Self.entry
            other.fingerprint = "f-2"
            #expect(try await keys.claimIdempotency(other, at: Self.t0 + .seconds(3)) == .mismatch)
            // Per token: another caller's same key is its own.
            let elsewhere = IdempotencyEntry.of(scope: "token:other", key: "k-1", fingerprint: "f-1")
            #expect(try await keys.claimIdempotency(elsewhere, at: Self.t0 + .seconds(3)) == .claimed)
        }
    }

    @Test("a key given back, or left unanswered past its lease, may be claimed again", arguments: Kind.allCases)
    func releaseAndLease(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let keys = try Self.keys(store)
            #expect(try await keys.claimIdempotency(Self.entry, at: Self.t0) == .claimed)
            try await keys.releaseIdempotency(Self.entry)
            #expect(try await keys.claimIdempotency(Self.entry, at: Self.t0) == .claimed)
            let almost = Self.t0 + IdempotencyTerms.lease - Millis(1)
            #expect(try await keys.claimIdempotency(Self.entry, at: almost) == .inProgress)
            var other = Self.entry
            other.fingerprint = "f-2"
            #expect(try await keys.claimIdempotency(other, at: Self.t0 + IdempotencyTerms.lease) == .claimed)
            // The new claim's request is the one recorded now.
            try await keys.completeIdempotency(other, response: Self.answer)
            #expect(try await keys.claimIdempotency(other, at: Self.t0 + .seconds(60)) == .completed(Self.answer))
        }
    }

    @Test("an answer is kept 24 hours, then forgotten; the sweep deletes it", arguments: Kind.allCases)
    func expiry(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let keys = try Self.keys(store)
            #expect(try await keys.claimIdempotency(Self.entry, at: Self.t0) == .claimed)
            try await keys.completeIdempotency(Self.entry, response: Self.answer)
            let day = IdempotencyTerms.retention
            #expect(try await keys.purgeIdempotency(at: Self.t0 + day - Millis(1)) == 0)
            #expect(
                try await keys.claimIdempotency(Self.entry, at: Self.t0 + day - Millis(1)) == .completed(Self.answer))
            #expect(try await keys.purgeIdempotency(at: Self.t0 + day) == 1)
            #expect(try await keys.claimIdempotency(Self.entry, at: Self.t0 + day) == .claimed)
        }
    }

    @Test("a link token's hash finds its session for a day", arguments: Kind.allCases)
    func links(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let keys = try Self.keys(store)
            let id = SessionID(rawValue: "ses_link1")
            try await keys.recordLinks(["h1", "h2"], session: id, at: Self.t0)
            #expect(try await keys.session(linkHash: "h1") == id)
            #expect(try await keys.session(linkHash: "h2") == id)
            #expect(try await keys.session(linkHash: "h3") == nil)
            if kind != .memory {
                #expect(try await keys.purgeIdempotency(at: Self.t0 + IdempotencyTerms.retention) == 2)
                #expect(try await keys.session(linkHash: "h1") == nil)
            }
        }
    }

    @Test("a recorded answer is sealed: a store opened with another key cannot read it")
    func answerSealed() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-keys-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(path: dir + "/v.sqlite", sealer: TestSealer(key: 0x21))
        #expect(try await store.claimIdempotency(Self.entry, at: Self.t0) == .claimed)
        try await store.completeIdempotency(Self.entry, response: Self.answer)
        let raw =
            try Data(contentsOf: URL(fileURLWithPath: dir + "/v.sqlite"))
            + ((try? Data(contentsOf: URL(fileURLWithPath: dir + "/v.sqlite-wal"))) ?? Data())
        #expect(raw.range(of: Data("1 Main St".utf8)) == nil)
        let other = try SQLiteStore(path: dir + "/v.sqlite", sealer: TestSealer(key: 0x22))
        await #expect(throws: (any Error).self) {
            _ = try await other.claimIdempotency(Self.entry, at: Self.t0 + .seconds(1))
        }
    }

    @Test("a key rotation on SQLite re-seals the recorded answers: they read under the new key")
    func answerResealed() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-keys-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(path: dir + "/v.sqlite", sealer: TestSealer(key: 0x21))
        #expect(try await store.claimIdempotency(Self.entry, at: Self.t0) == .claimed)
        try await store.completeIdempotency(Self.entry, response: Self.answer)
        let pending = IdempotencyEntry.of(scope: "token:console", key: "k-2", fingerprint: "f-1")
        #expect(try await store.claimIdempotency(pending, at: Self.t0) == .claimed)
        _ = try await store.reseal(with: TestSealer(key: 0x22))
        let rotated = try SQLiteStore(path: dir + "/v.sqlite", sealer: TestSealer(key: 0x22))
        #expect(try await rotated.claimIdempotency(Self.entry, at: Self.t0 + .seconds(1)) == .completed(Self.answer))
        #expect(try await rotated.claimIdempotency(pending, at: Self.t0 + .seconds(1)) == .inProgress)
    }
}
