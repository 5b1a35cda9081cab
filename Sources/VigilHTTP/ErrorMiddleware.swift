import Hummingbird
import Logging
import VigilCore

/// Errors of the HTTP layer itself.
public struct APIError: Error, Sendable {
    let status: HTTPResponse.Status
    let code: String
    let message: String

    static let unauthorized = APIError(
        status: .unauthorized, code: "unauthorized", message: "a valid bearer token is required")
    static func tooManyStreams(_ limit: Int) -> APIError {
        APIError(
            status: .tooManyRequests, code: "too_many_streams",
            message: "this token already has \(limit) event streams open; close one first")
    }

    static func forbidden(_ role: Role, _ why: String? = nil) -> APIError {
        APIError(status: .forbidden, code: "forbidden", message: why ?? "the \(role.rawValue) role may not do this")
    }
    static let tooLarge = APIError(
        status: .contentTooLarge, code: "body_too_large", message: "the request body is larger than 1 MiB")
}

/// Turns every error into the JSON body `{"error": {"code", "message"}}` of docs/contract.md, with its status.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = VigilContext
    let logger: Logger

    func handle(_ request: Request, context: VigilContext, next: (Request, VigilContext) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let (status, code, message) = Self.map(error)
            if status.code >= 500 {
                logger.error("request failed", metadata: ["path": "\(request.uri.path.prefix(80))", "code": "\(code)"])
            }
            var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
            if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
            if status == .serviceUnavailable { headers[.retryAfter] = "1" }
            // The unread rest of an oversized body would otherwise stall the connection.
            if status == .contentTooLarge { headers[.connection] = "close" }
            let body: JSONValue = ["error": ["code": .string(code), "message": .string(message)]]
            let bytes = (try? VigilJSON.encode(body)) ?? []
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    static func map(_ error: any Error) -> (HTTPResponse.Status, String, String) {
        switch error {
        case let e as APIError:
            return (e.status, e.code, e.message)
        case let e as VigilError:
            switch e.code {
            case .invalid: return (.badRequest, e.code.rawValue, e.message)
            case .notFound: return (.notFound, e.code.rawValue, e.message)
            case .conflict: return (.conflict, e.code.rawValue, e.message)
            case .gone: return (.gone, e.code.rawValue, e.message)
            case .unavailable, .storageFull: return (.serviceUnavailable, e.code.rawValue, e.message)
            case .internalError: return (.internalServerError, e.code.rawValue, "internal error")
            }
        case let e as HTTPError:
            switch e.status {
            case .notFound: return (.notFound, "not_found", "no such route")
            case .methodNotAllowed: return (.methodNotAllowed, "method_not_allowed", "method not allowed on this route")
            case .contentTooLarge: return (.contentTooLarge, "body_too_large", "the request body is larger than 1 MiB")
            default:
                return (
                    e.status, e.status.code >= 500 ? "internal_error" : "bad_request",
                    e.status.code >= 500 ? "internal error" : (e.body ?? e.status.reasonPhrase)
                )
            }
        default:
            return (.internalServerError, "internal_error", "internal error")
        }
    }
}
