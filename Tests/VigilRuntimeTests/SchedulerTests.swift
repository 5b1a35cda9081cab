import Dispatch
import Synchronization
import Testing
import VigilCore
import VigilRuntime

@Suite("the Dispatch timer scheduler")
struct SchedulerTests {
    final class Collector: Sendable {
        let fired = Mutex<[SessionID]>([])
        let done = DispatchSemaphore(value: 0)
        let expected: Int
        init(expected: Int) { self.expected = expected }
        func add(_ ids: [SessionID]) {
            let n = fired.withLock {
                $0 += ids
                return $0.count
            }
            if n >= expected { done.signal() }
        }
    }

    @Test("deadlines fire in order; a re-armed or disarmed session fires only at its latest deadline")
    func firesLatestOnly() async throws {
        let clock = AnchoredClock()
        let c = Collector(expected: 3)
        let s = DispatchTimerScheduler(clock: clock) { c.add($0) }
        let now = clock.now()
        let a = SessionID(rawValue: "ses_a")
        let b = SessionID(rawValue: "ses_b")
        let d = SessionID(rawValue: "ses_d")
        let gone = SessionID(rawValue: "ses_gone")
        s.arm(a, at: now + Millis(30))
        s.arm(b, at: now + Millis(10))
        s.arm(a, at: now + Millis(60))
        s.arm(gone, at: now + Millis(20))
        s.disarm(gone)
        s.arm(d, at: now - .seconds(5))
        #expect(c.done.wait(timeout: .now() + 5) == .success)
        try await Task.sleep(for: .milliseconds(100))
        #expect(c.fired.withLock { $0 } == [d, b, a])
        #expect(s.stats().pending == 0)
    }
}

@Suite("time across a suspend")
struct SuspendTests {
    /// A boot clock a test moves by hand: the machine "suspends" by jumping it forward.
    final class Clocks: Sendable {
        let boot = Mutex<Int64>(5_000_000_000)
        let wall = Mutex<Int64>(1_795_341_600_000_000)
        func jump(micros: Int64) {
            boot.withLock { $0 += micros }
            wall.withLock { $0 += micros }
        }
    }

    @Test("the anchored clock counts time suspended, and a suspend is not a wall-clock step")
    func clockCountsSuspend() {
        let c = Clocks()
        let clock = AnchoredClock(wallMicros: { c.wall.withLock { $0 } }, bootMicros: { c.boot.withLock { $0 } })
        let before = clock.now()
        c.jump(micros: 600_000_000)  // ten minutes asleep
        #expect(clock.now() - before == .seconds(600))
        #expect(clock.wallSkew() == .zero)
        // A step of the wall clock alone is one.
        c.wall.withLock { $0 += 3_000_000 }
        #expect(clock.wallSkew() == Millis(3000))
    }

    @Test("a deadline that falls due during a suspend fires within a second of the resume, with its lateness")
    func deadlineFiresAfterResume() async throws {
        let c = Clocks()
        let clock = AnchoredClock(wallMicros: { c.wall.withLock { $0 } }, bootMicros: { c.boot.withLock { $0 } })
        let fired = SchedulerTests.Collector(expected: 1)
        let s = DispatchTimerScheduler(clock: clock) { fired.add($0) }
        let id = SessionID(rawValue: "ses_sleeper")
        s.arm(id, at: clock.now() + .seconds(60))
        // Nothing is due yet: the timer must not fire on its own (0.3 s of real time, far from 60 s).
        #expect(fired.done.wait(timeout: .now() + .milliseconds(300)) == .timedOut)
        // The machine sleeps ten minutes; Dispatch's monotonic timer saw none of it.
        c.jump(micros: 600_000_000)
        let resumed = DispatchTime.now()
        #expect(fired.done.wait(timeout: .now() + .seconds(3)) == .success)
        let waitedMillis = Double(DispatchTime.now().uptimeNanoseconds - resumed.uptimeNanoseconds) / 1e6
        // At most the scheduler's one-second look plus 0.5 s for a loaded 2-core machine; before this, the timer
        // slept the whole 60 s of monotonic time.
        #expect(waitedMillis <= 1500, "fired \(waitedMillis) ms after the resume")
        #expect(fired.fired.withLock { $0 } == [id])
        let late = s.drainLateness()
        // Late by the pause less the minute it was armed for, give or take the test's own pace.
        #expect(late.count == 1 && (539_000...542_000).contains(late[0]), "lateness \(late)")
    }
}
