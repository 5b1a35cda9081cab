import Logging
import Synchronization
import VigilCore
import VigilDelivery

/// Alarms every row the store set aside because it cannot be read: a session whose record cannot be read is a
/// person nobody watches, and a notification that cannot be read is one nobody sends. Each session with such rows
/// gets a `system.alarm` naming it (to the `alarm_targets`, and on its timeline and the stream, where the
/// console's banner takes it from), repeated every `repeatEvery` until an operator ends the session; `/readyz`'s
/// checks list them meanwhile (the service stays ready: everything else carries on).
final class QuarantineWatch: Sendable {
    private let store: any QuarantineStore
    private let sessions: any SessionRepository
    private let alarm: DirectAlarm
    private let clock: any WallClock
    private let targets: [Target]
    private let repeatEvery: Millis
    private let logger: Logger
    private struct State {
        /// What the last check found.
        var rows: [QuarantinedRow] = []
        /// When each session was last alarmed.
        var alarmed: [SessionID: Timestamp] = [:]
    }
    private let state = Mutex(State())

    init(
        store: any QuarantineStore, sessions: any SessionRepository, alarm: DirectAlarm,
        clock: any WallClock, targets: [Target], repeatEvery: Millis = .seconds(60), logger: Logger
    ) {
        self.store = store
        self.sessions = sessions
        self.alarm = alarm
        self.clock = clock
        self.targets = targets
        self.repeatEvery = repeatEvery
        self.logger = logger
    }

    /// `/readyz`'s line: `ok`, or each unreadable row of a session still open.
    var readinessCheck: String {
        let rows = state.withLock { $0.rows }
        return rows.isEmpty ? "ok" : rows.map(\.summary).joined(separator: "; ")
    }

    /// Reads the store's list and alarms each session due an alarm; a session that ended since is cleared. Returns
    /// the alarms' deliveries, which go on in the background (retried as each target says).
    @discardableResult
    func check() async -> [Task<Bool, Never>] {
        let rows: [QuarantinedRow]
        do {
            rows = try await store.quarantined()
        } catch {
            return []  // the store is away: the watchdog says so
        }
        var sent: [Task<Bool, Never>] = []
        let now = clock.now()
        let bySession = Dictionary(grouping: rows, by: \.sessionID)
        let (due, cleared) = state.withLock { s -> ([SessionID], [SessionID]) in
            s.rows = rows
            let due = bySession.keys.filter { id in s.alarmed[id].map { now - $0 >= repeatEvery } ?? true }
            for id in due { s.alarmed[id] = now }
            let cleared = s.alarmed.keys.filter { bySession[$0] == nil }
            for id in cleared { s.alarmed[id] = nil }
            return (due.sorted { $0.rawValue < $1.rawValue }, cleared)
        }
        for id in due {
            let list = bySession[id] ?? []
            let reason =
                list.map(\.summary).joined(separator: "; ")
                + ": set aside, never retried; nobody watches this person here until an operator acts: reach "
                + "them another way, then end the session"
            logger.critical(
                "an unreadable stored row is set aside",
                metadata: ["session": "\(id)", "rows": "\(list.map(\.rowID).joined(separator: ","))"])
            sent += alarm.send(
                .systemAlarm, ["raised": true, "reason": .string(reason), "session_id": .string(id.rawValue)],
                to: targets, "system alarm sent")
            await record(id, EventData.SystemAlarm(raised: true, reason: reason))
        }
        for id in cleared {
            await record(
                id, EventData.SystemAlarm(raised: false, reason: "session \(id.rawValue) ended: its alarm is cleared"))
        }
        return sent
    }

    private func record(_ id: SessionID, _ data: EventData.SystemAlarm) async {
        do {
            _ = try await sessions.commit(
                CommitBatch(
                    session: nil, expectedVersion: nil, sessionID: id, events: [NewEvent(data, at: clock.now())],
                    outbox: [], outboxUpdates: []))
        } catch {
            logger.error("the system alarm could not be recorded", metadata: ["error": "\(error)"])
        }
    }
}
