import Synchronization
import VigilCore

/// A clock and scheduler for tests: time moves only when a test advances it, and advancing returns the sessions
/// whose deadlines passed, in deadline order.
public final class ManualTime: WallClock, TimerScheduler, Sendable {
    private struct State {
        var now: Timestamp
        var deadlines: [SessionID: Timestamp] = [:]
    }

    private let state: Mutex<State>

    /// Starts at `start` (default 2026-11-22T10:00:00Z).
    public init(start: Timestamp = Timestamp(seconds: 1_795_341_600)) {
        state = Mutex(State(now: start))
    }

    public func now() -> Timestamp { state.withLock { $0.now } }

    public func arm(_ id: SessionID, at deadline: Timestamp) { state.withLock { $0.deadlines[id] = deadline } }

    public func disarm(_ id: SessionID) { state.withLock { $0.deadlines[id] = nil } }

    /// The armed deadline of a session.
    public func deadline(of id: SessionID) -> Timestamp? { state.withLock { $0.deadlines[id] } }

    /// Moves time forward and returns the sessions now due, removing their deadlines (the engine re-arms).
    public func advance(by d: Millis) -> [SessionID] {
        state.withLock { s in
            s.now = s.now + d
            let now = s.now
            let due = s.deadlines.filter { $0.value <= now }.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
            for (id, _) in due { s.deadlines[id] = nil }
            return due.map(\.key)
        }
    }

    /// Sets the clock to an instant without firing anything (a clock step).
    public func set(_ t: Timestamp) { state.withLock { $0.now = t } }
}

/// Records what the engine reports, for assertions.
public final class RecordingObserver: EngineObserver, Sendable {
    private let box = Mutex<([StoredEvent], Int)>(([], 0))

    /// Creates an empty recorder.
    public init() {}

    public func committed(_ events: [StoredEvent]) { box.withLock { $0.0.append(contentsOf: events) } }
    public func outboxChanged() { box.withLock { $0.1 += 1 } }

    /// Every event reported so far.
    public var events: [StoredEvent] { box.withLock { $0.0 } }
    /// The types of every event reported so far.
    public var types: [EventType] { events.map(\.type) }
}
