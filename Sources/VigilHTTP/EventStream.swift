import Hummingbird
import VigilCore

/// Server-Sent Events of every session event: `id: <seq>`, `event: <type>`, `data: <event JSON>`.
enum EventStream {
    /// Streams open at once per token: a leaked tab cannot exhaust the server.
    static let perTokenLimit = 8

    /// The stream for `owner`; `staff` false (a viewer) redacts the personal data of every event it carries.
    static func response(env: APIEnvironment, after last: Int64?, owner: String, staff: Bool) throws -> Response {
        // Subscribe before reading the backlog, so nothing falls between the two.
        guard let opened = env.hub.open(owner: owner, limit: perTokenLimit, at: env.engine.now()) else {
            throw APIError.tooManyStreams(perTokenLimit)
        }
        let (live, published) = (opened.stream, opened.after)
        let body = ResponseBody { writer in
            // Without `Last-Event-ID`, from the last event published before the subscription (read with it, so an
            // event published in between is neither skipped nor sent twice).
            var sent = last ?? published
            try await writer.write(ByteBuffer(string: "retry: 2000\n: connected\n\n"))
            if let last {
                var cursor = last
                while true {
                    let page = try await env.store.events(after: cursor, limit: 1000)
                    // A canary's own session events stay off the console: only its `canary.*` results are shown.
                    for e in page where !(e.sessionID?.isCanary ?? false) {
                        try await writer.write(frame(staff ? e : e.redacted()))
                    }
                    guard let end = page.last?.seq else { break }
                    cursor = end
                    sent = end
                    if page.count < 1000 { break }
                }
            }
            for await item in live {
                switch item {
                case .event(let e):
                    guard e.seq > sent else { continue }
                    sent = e.seq
                    if e.sessionID?.isCanary ?? false { continue }
                    try await writer.write(frame(staff ? e : e.redacted()))
                case .tick:
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream", .cacheControl: "no-store",
                .init("X-Accel-Buffering")!: "no",
            ], body: body)
    }

    static func frame(_ e: StoredEvent) -> ByteBuffer {
        let data = (try? VigilJSON.encode(e)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return ByteBuffer(string: "id: \(e.seq)\nevent: \(e.type.rawValue)\ndata: \(data)\n\n")
    }
}
