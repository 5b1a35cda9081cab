import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import VigilCore
import VigilHTTP
import VigilTestKit

@Suite("the person's page in their language, with the help near them")
struct PersonPageTests {
    static let resources = [
        Resource(
            id: "near", name: "Near Clinic", kind: .treatment, phone: "555-0101", latitude: 39.79, longitude: -89.65,
            region: "IL", country: "US"),
        Resource(id: "mail", name: "Mail Naloxone", kind: .naloxone, url: "https://mail.example", byMail: true),
    ]

    /// The API harness's router with resources, a hotline number and `language` as the default.
    static func app(_ h: APIHarness, language: Language = .en) -> Application<RouterResponder<VigilContext>> {
        var env = h.env
        env.person.language = language
        env.person.resources = resources
        env.person.hotlineNumber = "+18005550100"
        return Application(router: VigilAPI.router(env))
    }

    static func start(_ client: some TestClientProtocol, _ body: String) async throws -> (Int, JSONValue?) {
        try await client.execute(
            uri: "/v1/sessions", method: .post, headers: APIHarness.bearer(APIHarness.op),
            body: ByteBuffer(string: body)
        ) { r in (Int(r.status.code), jsonBody(r)) }
    }

    static let body =
        #"{"location":{"address":"1 Main","latitude":39.78,"longitude":-89.65},"check_in_interval_s":600"#

    @Test("a language Vigil does not speak is a 400 that lists those it does", arguments: [#""de""#, "3", #""ES""#])
    func unsupported(_ value: String) async throws {
        let h = APIHarness()
        try await Self.app(h).test(.router) { client in
            let (status, answer) = try await Self.start(client, Self.body + #","language":\#(value)}"#)
            #expect(status == 400)
            #expect(answer?["error"]?["message"]?.stringValue == "language must be one of en, es, fr")
        }
        #expect(await h.engine.openSessions().isEmpty)
    }

    @Test("the hotline's language is the default; a session's own wins and reads back")
    func defaults() async throws {
        let h = APIHarness()
        try await Self.app(h, language: .fr).test(.router) { client in
            let byDefault = try await Self.start(client, Self.body + "}").1
            #expect(byDefault?["language"]?.stringValue == "fr")
            let own = try await Self.start(client, Self.body + #","language":"es"}"#).1
            #expect(own?["language"]?.stringValue == "es")
        }
    }

    @Test("the page speaks Spanish, shows the help near them, keeps it after the end and only by-mail after purge")
    func page() async throws {
        let h = APIHarness()
        let app = Self.app(h)
        try await app.test(.router) { client in
            let started = try await Self.start(client, Self.body + #","language":"es"}"#).1
            let id = try #require(started?["id"]?.stringValue)
            let token = try #require(started?["check_in_url"]?.stringValue?.split(separator: "/").last.map(String.init))
            try await client.execute(uri: "/c/\(token)", method: .get) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok)
                #expect(html.contains("<html lang=es>"))
                #expect(html.contains("<h1>Avisa que estás bien</h1>"))
                #expect(html.contains("<button type=submit>Estoy bien</button>"))
                #expect(html.contains("Ayuda cerca de ti"))
                #expect(html.contains("Near Clinic") && html.contains("Mail Naloxone"))
                #expect(html.range(of: "Near Clinic")!.lowerBound < html.range(of: "Mail Naloxone")!.lowerBound)
                #expect(!html.contains("Check in") && !html.contains("I'm OK"))
            }
            let sid = SessionID(rawValue: id)
            _ = try await h.engine.execute(sid, .end(outcome: .safe, by: "t", note: nil))
            try await client.execute(uri: "/c/\(token)", method: .get) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok)
                #expect(html.contains("Este acompañamiento terminó. Cuídate."))
                #expect(html.contains("Near Clinic") && html.contains("Mail Naloxone"))
            }
            // Within the second: the ended sessions are not read again, and the link is answered as unknown.
            try await client.execute(uri: "/c/\(token)", method: .get) { r in #expect(r.status == .notFound) }
            _ = h.time.advance(by: .seconds(2))
            // The retention purge empties the location: then only the by-mail help and the hotline's number.
            var purged = try #require(try await h.store.session(sid))
            purged.purgePersonalData()
            purged.version += 1
            _ = try await h.store.commit(
                CommitBatch(
                    session: purged, expectedVersion: purged.version - 1, sessionID: sid, events: [], outbox: [],
                    outboxUpdates: []))
            try await client.execute(uri: "/c/\(token)", method: .get) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .gone)
                #expect(html.contains("<html lang=es>"))
                #expect(html.contains("Mail Naloxone") && html.contains("+18005550100"))
                #expect(!html.contains("Near Clinic"))
            }
        }
    }
}
