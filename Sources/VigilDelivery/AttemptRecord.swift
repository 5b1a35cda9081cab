import VigilCore

/// How one attempt on a target ended, for metrics: the target's configured name (never personal data), the result,
/// and how long the request took.
public struct AttemptRecord: Sendable, Equatable {
    /// The end of an attempt.
    public enum Result: String, Sendable, CaseIterable {
        /// The target answered 2xx.
        case delivered
        /// The attempt failed and will be retried on the same target.
        case retry
        /// The target failed for good: retries spent, a refusal, or a body that cannot be rendered for it.
        case failed
    }

    /// The target's configured name.
    public var target: TargetName
    /// How the attempt ended.
    public var result: Result
    /// How long the request took, in milliseconds; nil when nothing went on the wire.
    public var millis: Int64?

    /// Creates a record.
    public init(target: TargetName, result: Result, millis: Int64?) {
        self.target = target
        self.result = result
        self.millis = millis
    }
}
