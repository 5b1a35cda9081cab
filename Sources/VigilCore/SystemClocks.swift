#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The system's clocks, read in one place: the boot clock (deadlines: it counts time suspended), the monotonic
/// clock (timeouts, the watchdog's liveness checks) and the wall clock (anchoring at start, skew, benchmark
/// timestamps).
public enum SystemClocks {
    /// Microseconds since boot, time suspended included (`CLOCK_BOOTTIME`; never steps). A machine that was
    /// suspended or a virtual machine that was paused finds its deadlines due on waking, not late by the pause.
    public static func bootMicros() -> Int64 {
        #if os(Linux)
            read(CLOCK_BOOTTIME)
        #else
            read(CLOCK_MONOTONIC)
        #endif
    }
    /// Microseconds of the monotonic clock (arbitrary origin; never steps).
    public static func monotonicMicros() -> Int64 { read(CLOCK_MONOTONIC) }
    /// Milliseconds of the monotonic clock.
    public static func monotonicMillis() -> Int64 { monotonicMicros() / 1000 }
    /// Microseconds since the Unix epoch by the wall clock (may step).
    public static func wallMicros() -> Int64 { read(CLOCK_REALTIME) }
    /// Milliseconds since the Unix epoch by the wall clock.
    public static func wallMillis() -> Int64 { wallMicros() / 1000 }

    private static func read(_ clock: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
