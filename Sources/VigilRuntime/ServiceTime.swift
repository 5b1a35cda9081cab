import VigilCore

/// The time the service runs on: its clock, its deadline timer, and the stream on which the timer reports the
/// sessions whose deadlines passed (drained by the deadline service). Live: a clock anchored to the monotonic clock
/// and one Dispatch timer; a test gives its manual time and feeds `due` itself.
public struct ServiceTime: Sendable {
    /// Now.
    public var clock: any WallClock
    /// Arms and disarms each session's deadline.
    public var scheduler: any TimerScheduler
    /// Sessions due, in batches, as the timer reports them.
    public var due: AsyncStream<[SessionID]>
    /// How far the wall clock has stepped away from `clock` since start (the watchdog warns, metrics show it).
    public var wallSkew: @Sendable () -> Millis
    /// Deadlines armed, for metrics.
    public var pending: @Sendable () -> Int
    /// How late each deadline fired since the last call, in milliseconds, for metrics.
    public var lateness: @Sendable () -> [Int64]

    /// Creates the time from its parts.
    public init(
        clock: any WallClock, scheduler: any TimerScheduler, due: AsyncStream<[SessionID]>,
        wallSkew: @escaping @Sendable () -> Millis = { .zero }, pending: @escaping @Sendable () -> Int = { 0 },
        lateness: @escaping @Sendable () -> [Int64] = { [] }
    ) {
        self.clock = clock
        self.scheduler = scheduler
        self.due = due
        self.wallSkew = wallSkew
        self.pending = pending
        self.lateness = lateness
    }

    /// Production time: `AnchoredClock` and one `DispatchTimerScheduler` whose firings flow into `due`.
    public static func live() -> ServiceTime {
        let clock = AnchoredClock()
        let (due, sink) = AsyncStream.makeStream(of: [SessionID].self)
        let scheduler = DispatchTimerScheduler(clock: clock) { sink.yield($0) }
        return ServiceTime(
            clock: clock, scheduler: scheduler, due: due, wallSkew: { clock.wallSkew() },
            pending: { scheduler.stats().pending }, lateness: { scheduler.drainLateness() })
    }
}
