import Hummingbird
import HummingbirdTesting
import Testing
import VigilCore

@testable import VigilHTTP

@Suite("GET /v1/audit/head")
struct AuditHeadTests {
    @Test("a supervisor reads the last event's seq, hash and time; an operator is refused")
    func head() async throws {
        let h = APIHarness()
        try await h.app.test(.router) { client in
            try await client.execute(
                uri: "/v1/audit/head", method: .get, headers: APIHarness.bearer(APIHarness.token(.supervisor))
            ) { r in
                #expect(r.status == .ok)
                #expect(jsonBody(r) == ["seq": 0, "hash": .string(String(repeating: "0", count: 64)), "at": nil])
            }
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
                body: ByteBuffer(string: APIHarness.startBody)
            ) { r in #expect(r.status == .created) }
            let last = try #require(h.store.allEvents.last)
            let expected = try await h.store.auditHead()
            #expect(expected.seq == last.seq)
            try await client.execute(
                uri: "/v1/audit/head", method: .get, headers: APIHarness.bearer(APIHarness.token(.admin))
            ) { r in
                #expect(r.status == .ok)
                #expect(jsonBody(r) == expected.json)
                #expect(jsonBody(r)?["at"]?.stringValue == last.at.rfc3339)
            }
            try await client.execute(uri: "/v1/audit/head", method: .get, headers: APIHarness.bearer(APIHarness.op)) {
                r in #expect(r.status == .forbidden)
            }
        }
    }
}
