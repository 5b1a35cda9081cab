import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VigilCore
import VigilHTTP
import VigilTestKit

/// `Idempotency-Key` on every `POST` under `/v1`, kept in the store (docs/contract.md): in process, on the in-memory
/// store; the same on two instances sharing PostgreSQL is tested against the real binary.
@Suite("idempotency keys, in process")
struct IdempotencyTests {
    static func keyed(_ key: String, token: String = APIHarness.op) -> HTTPFields {
        var h = APIHarness.bearer(token)
        h[.init("Idempotency-Key")!] = key
        return h
    }

    @Test("a hundred concurrent starts under one key make one session; each is answered 201 or 409 in_progress")
    func oneKeyOneSession() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let answers = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String).self) { group in
                for _ in 0..<100 {
                    group.addTask {
                        try await client.execute(
                            uri: "/v1/sessions", method: .post, headers: Self.keyed("same-key"),
                            body: ByteBuffer(string: APIHarness.startBody)
                        ) { r in (r.status, String(buffer: r.body)) }
                    }
                }
                var out: [(HTTPResponse.Status, String)] = []
                for try await a in group { out.append(a) }
                return out
            }
            let created = answers.filter { $0.0 == .created }
            #expect(created.count >= 1)
            #expect(Set(created.map(\.1)).count == 1, "every 201 is the first answer")
            for a in answers where a.0 != .created {
                #expect(a.0 == .conflict)
                #expect(a.1.contains("in_progress"))
            }
        }
        #expect(try await h.store.sessions(.all, limit: 1000).count == 1)
    }

    @Test("a repeat gets the first answer; the same key with another body or path is a 422; another token's is its own")
    func repeatAndMismatch() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let first = try await client.execute(
                uri: "/v1/sessions", method: .post, headers: Self.keyed("k1"),
                body: ByteBuffer(string: APIHarness.startBody)
            ) { r in
                #expect(r.status == .created)
                return String(buffer: r.body)
            }
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: Self.keyed("k1"),
                body: ByteBuffer(string: APIHarness.startBody)
            ) { r in
                #expect(r.status == .created)
                #expect(String(buffer: r.body) == first)
                #expect(r.headers[.init("Idempotent-Replayed")!] == "true")
            }
            let other = APIHarness.startBody.replacingOccurrences(of: "123 Main St", with: "9 Other Rd")
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: Self.keyed("k1"), body: ByteBuffer(string: other)
            ) { r in
                #expect(r.status == .unprocessableContent)
                #expect(errorCode(r) == "idempotency_key_reused")
            }
            let id = try #require(try VigilJSON.decode(JSONValue.self, from: Array(first.utf8))["id"]?.stringValue)
            try await client.execute(
                uri: "/v1/sessions/\(id)/end", method: .post, headers: Self.keyed("k1"),
                body: ByteBuffer(string: #"{"outcome":"safe"}"#)
            ) { r in
                #expect(r.status == .unprocessableContent)
            }
            // The supervisor's "k1" is not the operator's.
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: Self.keyed("k1", token: APIHarness.token(.supervisor)),
                body: ByteBuffer(string: other)
            ) { r in
                #expect(r.status == .created)
            }
        }
        #expect(try await h.store.sessions(.all, limit: 10).count == 2)
    }

    @Test("a key used for an acknowledge that was refused, reused on a dispatch, is a 422 and dispatches nothing")
    func acknowledgeKeyOnDispatch() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await client.execute(
                uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: APIHarness.startBody)
            ) { r in try #require(jsonBody(r)?["id"]?.stringValue) }
            let ack = try await client.execute(
                uri: "/v1/sessions/\(id)/acknowledge", method: .post, headers: Self.keyed("k-ack")
            ) { r in r.status }
            try await client.execute(
                uri: "/v1/sessions/\(id)/dispatch", method: .post, headers: Self.keyed("k-ack")
            ) { r in
                #expect(r.status == .unprocessableContent, "the acknowledge was answered \(ack)")
            }
        }
        #expect(!h.store.notifications.contains { $0.isDispatch })
    }

    @Test("a PATCH repeated with its key gets the first answer, replayed, and updates the session once")
    func patchOnce() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            let id = try await client.execute(
                uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: APIHarness.startBody)
            ) { r in try #require(jsonBody(r)?["id"]?.stringValue) }
            var answers: [(String, String?)] = []
            for _ in 0..<2 {
                answers.append(
                    try await client.execute(
                        uri: "/v1/sessions/\(id)", method: .patch, headers: Self.keyed("k-patch"),
                        body: ByteBuffer(string: #"{"notes":"door is open"}"#)
                    ) { r in
                        #expect(r.status == .ok)
                        return (String(buffer: r.body), r.headers[.init("Idempotent-Replayed")!])
                    })
            }
            #expect(answers[0].0 == answers[1].0)
            #expect(answers.map(\.1) == [nil, "true"])
        }
        #expect(h.store.allEvents.filter { $0.type == .sessionUpdated }.count == 1)
    }

    @Test("a request that failed (503) gives its key back: the retry runs")
    func failureFreesTheKey() async throws {
        let h = APIHarness()
        h.store.failNextCommit(with: VigilError.unavailable("the store is away"))
        try await h.app.test(.router) { client in
            for expected in [HTTPResponse.Status.serviceUnavailable, .created, .created] {
                try await client.execute(
                    uri: "/v1/sessions", method: .post, headers: Self.keyed("k-retry"),
                    body: ByteBuffer(string: APIHarness.startBody)
                ) { r in #expect(r.status == expected) }
            }
        }
        #expect(try await h.store.sessions(.all, limit: 10).count == 1)
    }
}
