import Synchronization
import VigilCore
import VigilDelivery

/// A `WebhookTransport` for tests: records every request and answers with a scripted status (200 unless told).
public final class RecordingTransport: WebhookTransport, Sendable {
    private let state = Mutex<(requests: [HTTPRequestSpec], status: Int)>(([], 200))

    /// Creates a transport that answers 200.
    public init() {}

    /// Answers `status` from now on (0: a network error).
    public func answer(_ status: Int) { state.withLock { $0.status = status } }

    /// Every request so far, in order.
    public var requests: [HTTPRequestSpec] { state.withLock { $0.requests } }

    public func perform(_ spec: HTTPRequestSpec) async -> HTTPResult {
        let status = state.withLock { s -> Int in
            s.requests.append(spec)
            return s.status
        }
        return HTTPResult(status: status, curlCode: status == 0 ? 7 : 0, error: status == 0 ? "refused" : nil)
    }

    /// Always now: nothing here can wedge.
    public var lastLoopTick: Int64 { CurlClient.monotonicMillis() }
}
