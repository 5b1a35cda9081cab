import Foundation
import VigilCore
import VigilDelivery

/// No answer came from the server (refused, timed out, unresolvable): the command line exits with status 3.
public struct ServerUnreachable: Error, CustomStringConvertible {
    /// The server's URL.
    public var server: String
    /// libcurl's description.
    public var reason: String

    /// Creates the error.
    public init(server: String, reason: String) {
        self.server = server
        self.reason = reason
    }

    public var description: String { "cannot reach \(server): \(reason)" }
}

/// A client of the HTTP API, for the command line.
public struct VigilClient: Sendable {
    /// The server's base URL.
    public var server: String
    /// The bearer token.
    public var token: String?
    private let curl = CurlClient()

    /// Creates a client.
    public init(server: String, token: String?) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
    }

    /// Sends a request; returns the status and the parsed JSON body (nil when not JSON).
    public func send(_ method: String, _ path: String, body: JSONValue? = nil, headers extra: [(String, String)] = [])
        async throws -> (Int, JSONValue?)
    {
        let r = try await perform(method, path, body: body, headers: extra)
        guard r.status != 0 else { throw ServerUnreachable(server: server, reason: r.error ?? "no answer") }
        return (r.status, try? VigilJSON.decode(JSONValue.self, from: r.body))
    }

    /// Sends a request and returns what came back as it is: status 0 when no answer arrived.
    public func perform(
        _ method: String, _ path: String, body: JSONValue? = nil, headers extra: [(String, String)] = [],
        accept: String = "application/json"
    ) async throws -> HTTPResult {
        var headers: [(String, String)] = [("Accept", accept)]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        var bytes: [UInt8] = []
        if let body {
            bytes = try VigilJSON.encode(body)
            headers.append(("Content-Type", "application/json"))
        }
        var spec = HTTPRequestSpec(
            url: server + path, method: method, headers: headers + extra, body: bytes, timeoutMillis: 15_000)
        spec.maxResponseBytes = 64 << 20
        return await curl.perform(spec)
    }

    /// Follows the event stream from after `lastEventID` (nil: from now), handing each piece of it to `onBytes` as
    /// it arrives; returns when the stream ends or breaks (status 0: no answer).
    public func stream(lastEventID: Int64?, onBytes: @escaping @Sendable ([UInt8]) -> Void) async -> HTTPResult {
        var headers: [(String, String)] = [("Accept", "text/event-stream")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        if let lastEventID { headers.append(("Last-Event-ID", String(lastEventID))) }
        var spec = HTTPRequestSpec(url: server + "/v1/events", method: "GET", headers: headers, timeoutMillis: 0)
        spec.onBody = onBytes
        return await curl.perform(spec)
    }

    /// Sends a signed `test.ping` to a target named in a configuration file and describes the answer.
    public static func testTarget(configPath: String, name: String) async throws -> (ok: Bool, report: String) {
        let config = try ConfigLoader.load(path: configPath)
        guard let target = config.targets[TargetName(rawValue: name)] else {
            throw VigilError.invalid("no target named \"\(name)\" in \(configPath)")
        }
        let client = CurlClient()
        let started = ContinuousClock.now
        let (id, r) = try await OutboxWorker.ping(
            target, client: client, at: AnchoredClock().now(), hotline: config.hotline)
        let ms =
            (ContinuousClock.now - started).components.attoseconds / 1_000_000_000_000_000
            + (ContinuousClock.now - started).components.seconds * 1000
        client.shutdown()
        let body = String(decoding: r.body.prefix(500), as: UTF8.self)
        if r.status == 0 {
            return (false, "target \(name): no answer after \(ms) ms (\(r.error ?? "unknown error")); webhook-id \(id)")
        }
        let ok = (200..<300).contains(r.status)
        return (
            ok,
            "target \(name): HTTP \(r.status) in \(ms) ms; webhook-id \(id); \(ok ? "accepted" : "NOT accepted")"
                + (body.isEmpty ? "" : "\nresponse: \(body)")
        )
    }
}
