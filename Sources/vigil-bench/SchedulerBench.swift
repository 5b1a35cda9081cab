import Dispatch
import Foundation
import Synchronization
import VigilCore
import VigilRuntime

/// The alternative design: one DispatchSourceTimer per session, measured against the heap.
final class PerSessionTimerScheduler: TimerScheduler, @unchecked Sendable {
    private let queue = DispatchQueue(label: "bench.per-session", qos: .userInteractive)
    private var timers: [SessionID: any DispatchSourceTimer] = [:]
    private let clock: any WallClock
    private let onFire: @Sendable ([SessionID]) -> Void

    init(clock: any WallClock, onFire: @escaping @Sendable ([SessionID]) -> Void) {
        self.clock = clock
        self.onFire = onFire
    }

    func arm(_ id: SessionID, at deadline: Timestamp) {
        queue.async {
            self.timers[id]?.cancel()
            let t = DispatchSource.makeTimerSource(flags: .strict, queue: self.queue)
            let delta = max(0, deadline.millis - self.clock.now().millis)
            t.schedule(deadline: .now() + .milliseconds(Int(delta)), leeway: .milliseconds(1))
            t.setEventHandler { [unowned self] in
                self.timers[id]?.cancel()
                self.timers[id] = nil
                self.onFire([id])
            }
            self.timers[id] = t
            t.activate()
        }
    }

    func disarm(_ id: SessionID) {
        queue.async {
            self.timers[id]?.cancel()
            self.timers[id] = nil
        }
    }

    func flush() { queue.sync {} }
}

enum SchedulerBench {
    final class Recorder: Sendable {
        let late = Mutex<[Double]>([])
        let deadlines: [SessionID: Int64]
        let clock: AnchoredClock
        let total: Int
        let done = DispatchSemaphore(value: 0)

        init(deadlines: [SessionID: Int64], clock: AnchoredClock) {
            self.deadlines = deadlines
            self.clock = clock
            total = deadlines.count
        }

        func fired(_ ids: [SessionID]) {
            let now = Double(clock.nowMicros())
            let n = late.withLock { l -> Int in
                for id in ids { l.append((now - Double(deadlines[id]! * 1000)) / 1000) }
                return l.count
            }
            if n == total { done.signal() }
        }
    }

    static func run(sizes: [Int], designs: [String], spreadMillis: Int64) {
        say("scheduler benchmark: deadlines spread over \(spreadMillis) ms, lateness in ms (fire time - deadline)")
        say("design        sessions   arm_ms   rss_per_session_B   lateness")
        for n in sizes {
            for design in designs {
                let clock = AnchoredClock()
                let start = clock.now().millis + 1000
                var deadlines: [SessionID: Int64] = [:]
                deadlines.reserveCapacity(n)
                let ids = (0..<n).map { SessionID(rawValue: "ses_\($0)") }
                for (i, id) in ids.enumerated() { deadlines[id] = start + Int64(i) * spreadMillis / Int64(max(n, 1)) }
                let recorder = Recorder(deadlines: deadlines, clock: clock)
                let rssBefore = residentBytes()
                let t0 = DispatchTime.now().uptimeNanoseconds
                var keep: AnyObject?
                if design == "heap" {
                    let s = DispatchTimerScheduler(clock: clock) { recorder.fired($0) }
                    for id in ids { s.arm(id, at: Timestamp(millis: deadlines[id]!)) }
                    _ = s.stats()
                    keep = s
                } else {
                    let s = PerSessionTimerScheduler(clock: clock) { recorder.fired($0) }
                    for id in ids { s.arm(id, at: Timestamp(millis: deadlines[id]!)) }
                    s.flush()
                    keep = s
                }
                let armMillis = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
                let rss = residentBytes() - rssBefore
                let ok = recorder.done.wait(timeout: .now() + .seconds(Int(spreadMillis / 1000) + 120)) == .success
                let summary = Summary(recorder.late.withLock { $0 })
                say(
                    String(
                        format: "%-12@ %9d %8.1f %19d   %@%@", design as NSString, n, armMillis, rss / max(n, 1),
                        summary.description as NSString, ok ? "" : " (TIMED OUT)"))
                keep = nil
                _ = keep
            }
        }
    }
}
