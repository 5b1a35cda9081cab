import Crypto
import Foundation
import Hummingbird
import Logging
import VigilCore

/// `Idempotency-Key` on every `POST` (and `PATCH`) under `/v1`, kept in the store for every instance to see: per token, the first
/// request's hash and its answer. A repeat gets the first answer again and changes nothing; the same key with another
/// method, path or body is a 422; a repeat while the first is still being handled, anywhere, is a 409 `in_progress`.
/// A request that fails (an error, a 5xx) gives its key back, so the next try runs afresh.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = VigilContext
    /// Where keys live; nil (a store without keys) turns the header into a no-op.
    let store: (any IdempotencyStore)?
    let now: @Sendable () -> Timestamp
    let logger: Logger

    /// Routes recorded on every call (a location reveal, a check-in link) and the text gateway's (which has its own
    /// replay memory, by `MessageSid`): a key never replays them.
    static func isExempt(_ path: String) -> Bool {
        path.hasSuffix("/location/reveal") || path.hasSuffix("/check-in-link") || path == "/v1/inbound/sms"
    }

    func handle(_ request: Request, context: VigilContext, next: (Request, VigilContext) async throws -> Response)
        async throws -> Response
    {
        guard request.method == .post || request.method == .patch, request.uri.path.hasPrefix("/v1/"),
            !Self.isExempt(request.uri.path),
            let store, let principal = context.principal, let key = try VigilAPI.idempotencyKey(request)
        else { return try await next(request, context) }
        var request = request
        let body = try await request.collectBody(upTo: VigilAPI.maxBody)
        let entry = IdempotencyEntry.of(
            scope: "token:" + principal.name, key: key,
            fingerprint: Self.fingerprint(method: request.method.rawValue, uri: request.uri.description, body: body))
        switch try await store.claimIdempotency(entry, at: now()) {
        case .completed(let first):
            return Self.replay(first)
        case .inProgress:
            throw APIError(
                status: .conflict, code: "in_progress",
                message: "a request with this Idempotency-Key is still being handled; try again shortly")
        case .mismatch:
            throw APIError(
                status: .unprocessableContent, code: "idempotency_key_reused",
                message: "this Idempotency-Key was used for another request (another method, path or body)")
        case .claimed:
            break
        }
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            // A refusal (4xx) is the request's answer and is repeated like any other; a failure (5xx, 408, 429) is
            // not an answer: the key is given back for the retry.
            let (status, code, message) = ErrorMiddleware.map(error)
            if (400..<500).contains(status.code) && status != .requestTimeout && status != .tooManyRequests {
                let body: JSONValue = ["error": ["code": .string(code), "message": .string(message)]]
                await complete(
                    store, entry,
                    IdempotentResponse(
                        status: status.code, contentType: "application/json",
                        body: (try? VigilJSON.encode(body)) ?? []))
            } else {
                await release(store, entry)
            }
            throw error
        }
        guard response.status.code < 500 else {
            await release(store, entry)
            return response
        }
        let collector = Collector()
        var response2 = response
        try await response.body.write(collector)
        let first = IdempotentResponse(
            status: response.status.code, contentType: response.headers[.contentType] ?? "",
            body: Array(collector.buffer.readableBytesView))
        await complete(store, entry, first)
        response2.body = .init(byteBuffer: collector.buffer)
        return response2
    }

    /// A hex SHA-256 of the method, the path with its query, and the body bytes.
    static func fingerprint(method: String, uri: String, body: ByteBuffer) -> String {
        var h = SHA256()
        h.update(data: Array((method + " " + uri + "\n").utf8))
        h.update(data: Array(body.readableBytesView))
        return h.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The first answer, again (a stored status outside HTTP's range reads as a 500, never a trap).
    static func replay(_ first: IdempotentResponse) -> Response {
        let status =
            (200...599).contains(first.status)
            ? HTTPResponse.Status(code: first.status) : .internalServerError
        var headers: HTTPFields = [.cacheControl: "no-store", .init("Idempotent-Replayed")!: "true"]
        if !first.contentType.isEmpty { headers[.contentType] = first.contentType }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: first.body)))
    }

    private func complete(_ store: any IdempotencyStore, _ entry: IdempotencyEntry, _ first: IdempotentResponse) async {
        do { try await store.completeIdempotency(entry, response: first) } catch {
            // The answer stands; the key, unanswered, is free again once its claim's lease runs out.
            logger.error("an Idempotency-Key's answer could not be recorded", metadata: ["error": "\(error)"])
        }
    }

    private func release(_ store: any IdempotencyStore, _ entry: IdempotencyEntry) async {
        do { try await store.releaseIdempotency(entry) } catch {
            logger.warning("an Idempotency-Key could not be given back", metadata: ["error": "\(error)"])
        }
    }
}

/// Gathers a response body in memory (every answer under `/v1` is small JSON).
private final class Collector: ResponseBodyWriter {
    var buffer = ByteBuffer()
    func write(_ part: ByteBuffer) async throws {
        var part = part
        buffer.writeBuffer(&part)
    }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
