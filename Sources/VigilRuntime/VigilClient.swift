import Foundation
import VigilCore
import VigilDelivery

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
    public func send(_ method: String, _ path: String, body: JSONValue? = nil) async throws -> (Int, JSONValue?) {
        var headers: [(String, String)] = [("Accept", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        var bytes: [UInt8] = []
        if let body {
            bytes = try VigilJSON.encode(body)
            headers.append(("Content-Type", "application/json"))
        }
        let r = await curl.perform(
            HTTPRequestSpec(url: server + path, method: method, headers: headers, body: bytes, timeoutMillis: 15_000))
        guard r.status != 0 else {
            throw VigilError.unavailable("cannot reach \(server): \(r.error ?? "no answer")")
        }
        return (r.status, try? VigilJSON.decode(JSONValue.self, from: r.body))
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
