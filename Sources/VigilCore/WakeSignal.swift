/// A wake-up that coalesces: any number of `wake()`s before the listener looks again count as one.
public struct WakeSignal: Sendable {
    /// What the listener iterates.
    public let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    /// Creates a signal with no listener yet.
    public init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Wakes the listener (now, or when it next looks).
    public func wake() { continuation.yield() }
}
