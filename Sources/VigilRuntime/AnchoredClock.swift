import Foundation
import VigilCore

/// Wall-clock time read as "the wall clock at start plus boot-clock time elapsed since".
///
/// A step of the system clock (NTP, an operator's `date -s`) can then neither fire a ladder early nor hold one
/// back; the step is detected and raised, and the next restart re-anchors to the wall clock. The boot clock counts
/// time suspended (`CLOCK_BOOTTIME`), so a machine that was suspended or paused comes back knowing how much time
/// passed, where the monotonic clock would have stood still and made every deadline late by the pause.
public final class AnchoredClock: WallClock, Sendable {
    private let wallAtStart: Int64
    private let bootAtStart: Int64
    private let wall: @Sendable () -> Int64
    private let boot: @Sendable () -> Int64

    /// Anchors now, on the system's clocks.
    public convenience init() {
        self.init(wallMicros: { SystemClocks.wallMicros() }, bootMicros: { SystemClocks.bootMicros() })
    }

    /// Anchors now, on the given clocks (microseconds): for tests, which cannot suspend a machine.
    public init(wallMicros: @escaping @Sendable () -> Int64, bootMicros: @escaping @Sendable () -> Int64) {
        wall = wallMicros
        boot = bootMicros
        wallAtStart = wallMicros() / 1000 * 1000
        bootAtStart = bootMicros()
    }

    public func now() -> Timestamp { Timestamp(millis: nowMicros() / 1000) }

    /// Now in microseconds since the epoch, by the same reckoning.
    public func nowMicros() -> Int64 { wallAtStart &+ (boot() &- bootAtStart) }

    /// How far the system's wall clock has moved away from this clock (positive: the wall clock is ahead).
    public func wallSkew() -> Millis { Millis(wall() / 1000 &- now().millis) }
}
