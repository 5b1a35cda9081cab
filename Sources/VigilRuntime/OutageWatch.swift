import Logging
import Synchronization
import VigilCore

/// Notes every second in the store that Vigil is watching, and notices when it comes back: a restart, the store
/// answering again after an outage, the machine resuming from a suspend. Each time, the deadlines that fell due
/// while nothing watched are counted for the mass lapse before any of them is decided (`recoverOverdue`), and the
/// event `system.recovered` says how long Vigil was away and who lapsed meanwhile (docs/contract.md, "After an
/// outage").
final class OutageWatch: Sendable {
    private let engine: SessionEngine
    private let store: any SessionRepository
    private let marks: (any AliveMarks)?
    private let clock: any WallClock
    private let logger: Logger
    /// Milliseconds the machine has spent suspended since it booted (the boot clock counts them, the monotonic
    /// clock does not).
    private let suspended: @Sendable () -> Int64
    private struct State {
        /// The last moment this instance noted in the store.
        var lastMark: Timestamp?
        /// The store refused the last mark.
        var storeDown = false
        /// `suspended()` at the last tick.
        var suspendedAt: Int64 = 0
    }
    private let state = Mutex(State())
    /// A resume shorter than this is no outage (a laptop lid closed for a moment still counts: deadlines are seconds).
    static let resumeAfter: Int64 = 2000
    /// How long away, with nobody lapsing meanwhile, is worth an event.
    static let worthSaying = Millis.seconds(5)

    init(
        engine: SessionEngine, store: any SessionRepository, clock: any WallClock, logger: Logger,
        suspended: @escaping @Sendable () -> Int64 = {
            (SystemClocks.bootMicros() &- SystemClocks.monotonicMicros()) / 1000
        }
    ) {
        self.engine = engine
        self.store = store
        self.marks = store as? any AliveMarks
        self.clock = clock
        self.logger = logger
        self.suspended = suspended
        let now = suspended()
        state.withLock { $0.suspendedAt = now }
    }

    /// At start, before any deadline is decided: counts what fell due while no process ran and, when an earlier
    /// process left its mark, records how long Vigil was away.
    func boot() async {
        let now = clock.now()
        let last: Timestamp?
        do {
            last = try await marks?.lastAlive()
        } catch {
            last = nil
            logger.warning("could not read when Vigil was last watching", metadata: ["error": "\(error)"])
        }
        let lapsed = await engine.recoverOverdue()
        if let last {
            await recovered(down: now - last, lapsed: lapsed, cause: "restart", at: now)
        }
        await mark(now)
    }

    /// Every second: notes that Vigil is watching; notices the store's return and a resume from a suspend.
    func tick() async {
        let now = clock.now()
        let slept = suspended()
        let resumed = state.withLock { s -> Int64? in
            defer { s.suspendedAt = slept }
            return slept - s.suspendedAt >= Self.resumeAfter ? slept - s.suspendedAt : nil
        }
        if let resumed {
            let since = now - Millis(resumed)
            await engine.recoverOverdue()
            await recovered(
                down: Millis(resumed), lapsed: await engine.lapses(after: since, upTo: now), cause: "resume", at: now)
        }
        let (wasDown, lastMark) = state.withLock { ($0.storeDown, $0.lastMark) }
        guard await mark(now) else { return }
        if wasDown, let lastMark {
            // The store answers again: whatever fell due meanwhile could not be decided; count it before it is.
            await engine.recoverOverdue()
            await recovered(
                down: now - lastMark, lapsed: await engine.lapses(after: lastMark, upTo: now), cause: "store", at: now)
        }
    }

    @discardableResult
    private func mark(_ now: Timestamp) async -> Bool {
        guard let marks else { return true }
        do {
            try await marks.markAlive(at: now)
            state.withLock {
                $0.lastMark = now
                $0.storeDown = false
            }
            return true
        } catch {
            state.withLock { $0.storeDown = true }
            return false
        }
    }

    private func recovered(down: Millis, lapsed: [OutageLapse], cause: String, at now: Timestamp) async {
        // A quick restart that missed nothing (an upgrade, another instance of a cluster restarting) is no outage.
        guard down >= Self.worthSaying || !lapsed.isEmpty else { return }
        let event = EventData.SystemRecovered(downS: down.wholeSeconds, lapsed: lapsed, cause: cause)
        logger.notice(
            "Vigil is back", metadata: ["cause": "\(cause)", "down_s": "\(event.downS)", "lapsed": "\(lapsed.count)"])
        do {
            _ = try await store.commit(
                CommitBatch(
                    session: nil, expectedVersion: nil, sessionID: nil, events: [NewEvent(event, at: now)], outbox: [],
                    outboxUpdates: []))
        } catch {
            logger.error("could not record system.recovered", metadata: ["error": "\(error)"])
        }
    }
}
