import VigilCore

/// Sends one HTTP request and reports what came back; never throws (a failure is in the result). Production sends
/// through libcurl (`CurlClient`); tests record requests and answer as scripted (`RecordingTransport`).
public protocol WebhookTransport: Sendable {
    /// Performs a request.
    func perform(_ spec: HTTPRequestSpec) async -> HTTPResult
    /// The monotonic millisecond at which the transport's own loop last turned: the watchdog raises an alarm when
    /// it stops moving (a wedged delivery thread).
    var lastLoopTick: Int64 { get }
}

extension CurlClient: WebhookTransport {}

extension Target {
    /// The signed request that carries `body` to this target: the one place a webhook request is built, for the
    /// outbox's attempts and for pings and alarms alike.
    public func request(body: [UInt8], webhookID: WebhookID, at now: Timestamp) -> HTTPRequestSpec {
        if format == .twilio, let account = twilio { return twilioRequest(body: body, account: account) }
        return HTTPRequestSpec(
            url: url,
            headers: [("Content-Type", format.contentType)]
                + signer.headers(id: webhookID.rawValue, timestamp: now.unixSeconds, body: body),
            body: body, timeoutMillis: Int(timeout.value), tls: tls, proxy: proxy)
    }
}
