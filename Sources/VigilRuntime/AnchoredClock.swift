import Foundation
import VigilCore

/// Wall-clock time read as "the wall clock at start plus monotonic time elapsed since".
///
/// A step of the system clock (NTP, an operator's `date -s`) can then neither fire a ladder early nor hold one
/// back; the step is detected and logged, and the next restart re-anchors to the wall clock.
public final class AnchoredClock: WallClock, Sendable {
    private let wallAtStart: Int64
    private let monoAtStart: Int64

    /// Anchors now.
    public init() {
        wallAtStart = Self.wallMillis() * 1000
        monoAtStart = Self.monoMicros()
    }

    public func now() -> Timestamp { Timestamp(millis: nowMicros() / 1000) }

    /// Now in microseconds since the epoch, by the same reckoning.
    public func nowMicros() -> Int64 { wallAtStart + Self.monoMicros() - monoAtStart }

    /// How far the system's wall clock has moved away from this clock (positive: the wall clock is ahead).
    public func wallSkew() -> Millis { Millis(Self.wallMillis() - now().millis) }

    static func wallMillis() -> Int64 { SystemClocks.wallMillis() }

    static func monoMicros() -> Int64 { SystemClocks.monotonicMicros() }
}
