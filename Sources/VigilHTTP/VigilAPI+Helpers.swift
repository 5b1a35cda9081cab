import Foundation
import Hummingbird
import VigilCore

extension VigilAPI {
    static func body(_ req: inout Request) async throws -> [UInt8] {
        if let len = req.headers[.contentLength].flatMap({ Int($0) }), len > maxBody {
            try await drain(req)
            throw APIError.tooLarge
        }
        var collected: [UInt8] = []
        var discarded = 0
        for try await chunk in req.body {
            if collected.count + chunk.readableBytes <= maxBody && discarded == 0 {
                collected.append(contentsOf: chunk.readableBytesView)
            } else {
                // Too large: keep reading (up to 16 MiB) so the client gets its 413, then answer.
                discarded += chunk.readableBytes
                if discarded > 16 << 20 { break }
            }
        }
        if discarded > 0 { throw APIError.tooLarge }
        return collected
    }

    /// Reads and discards what is left of an oversized body (up to 16 MiB), so the client that is still sending
    /// it gets its 413 instead of a stalled connection; past that the connection is closed.
    static func drain(_ req: Request) async throws {
        var discarded = 0
        for try await chunk in req.body {
            discarded += chunk.readableBytes
            if discarded > 16 << 20 { break }
        }
    }

    static func sessionID(_ ctx: VigilContext) throws -> SessionID {
        let raw = try ctx.parameters.require("id")
        guard let id = SessionID(validating: raw) else { throw VigilError.sessionNotFound }
        return id
    }

    static func idempotencyKey(_ req: Request) throws -> String? {
        guard let k = req.headers[.init("Idempotency-Key")!] else { return nil }
        guard (1...200).contains(k.utf8.count) else {
            throw VigilError.invalid("Idempotency-Key must be 1 to 200 characters")
        }
        return k
    }

    static func run(
        _ id: SessionID, _ command: Command, _ req: Request, _ env: APIEnvironment, status: HTTPResponse.Status = .ok,
        actor: Principal
    ) async throws -> Response {
        let s = try await env.engine.execute(id, command, actor: actor.actor)
        return try sessionResponse(s, env, status: status, disclosure: disclosure(actor, s))
    }

    static func checkInURL(_ s: Session, _ env: APIEnvironment) -> String {
        let path = "/c/\(s.checkInToken)"
        guard let base = env.publicURL else { return path }
        return base.hasSuffix("/") ? String(base.dropLast()) + path : base + path
    }

    /// What `p` reads of `s`: personal data only for staff, and only while the session is in alarm.
    static func disclosure(_ p: Principal, _ s: Session) -> Disclosure {
        Disclosure.read(staff: p.role.isStaff, state: s.state)
    }

    /// The session as a read shows it; never with the person's check-in link.
    static func viewJSON(_ s: Session, disclosure: Disclosure) throws -> JSONValue {
        try VigilJSON.decode(JSONValue.self, from: VigilJSON.encode(SessionView(api: s, disclosure: disclosure)))
    }

    /// A session answer; `checkInURL` only for the answer that starts the session.
    static func sessionResponse(
        _ s: Session, _ env: APIEnvironment, status: HTTPResponse.Status, disclosure: Disclosure,
        checkInURL: String? = nil
    ) throws -> Response {
        let bytes = try VigilJSON.encode(SessionView(api: s, disclosure: disclosure, checkInURL: checkInURL))
        return Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = (try? VigilJSON.encode(value)) ?? Array("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// An event as the API shows it: `{"seq", "type", "at", "session_id", "data"}`.
struct EventJSON: Encodable {
    let event: StoredEvent
    init(_ e: StoredEvent) { event = e }
    func encode(to encoder: any Encoder) throws { try event.encode(to: encoder) }
}
