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
