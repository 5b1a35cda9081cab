import Testing
import VigilCore
import VigilTestKit

/// Nobody watching the watchers, and the figures of a shift.
@Suite("the unattended console alarm and the shift's figures")
struct ShiftTests {
    let t0 = Timestamp(seconds: 1_795_341_600)

    @Test("open sessions with no console raise once after the configured time, and a console clears it")
    func unattendedRaisesOncePerEpisode() {
        var m = UnattendedMonitor(after: .seconds(120))
        #expect(m.observe(openSessions: 2, consoles: 0, at: t0) == nil)
        #expect(m.observe(openSessions: 2, consoles: 0, at: t0 + .seconds(119)) == nil)
        #expect(
            m.observe(openSessions: 2, consoles: 0, at: t0 + .seconds(120))
                == .raise(openSessions: 2, for: .seconds(120)))
        #expect(m.observe(openSessions: 3, consoles: 0, at: t0 + .seconds(500)) == nil, "once per episode")
        #expect(
            m.observe(openSessions: 3, consoles: 1, at: t0 + .seconds(501))
                == .clear(reason: "an operator console is connected"))
        // A new episode counts from its own start.
        #expect(m.observe(openSessions: 3, consoles: 0, at: t0 + .seconds(600)) == nil)
        #expect(m.observe(openSessions: 3, consoles: 0, at: t0 + .seconds(719)) == nil)
        #expect(
            m.observe(openSessions: 3, consoles: 0, at: t0 + .seconds(720))
                == .raise(openSessions: 3, for: .seconds(120)))
    }

    @Test("no open session, a connected console, or a zero setting never raises")
    func unattendedQuietCases() {
        var idle = UnattendedMonitor(after: .seconds(10))
        var watched = UnattendedMonitor(after: .seconds(10))
        var off = UnattendedMonitor(after: .zero)
        for s in stride(from: Int64(0), through: 100, by: 5) {
            #expect(idle.observe(openSessions: 0, consoles: 0, at: t0 + .seconds(s)) == nil)
            #expect(watched.observe(openSessions: 4, consoles: 1, at: t0 + .seconds(s)) == nil)
            #expect(off.observe(openSessions: 4, consoles: 0, at: t0 + .seconds(s)) == nil)
        }
    }

    @Test("a console that comes and goes resets the count: only an unbroken gap alarms")
    func unattendedGapMustBeUnbroken() {
        var m = UnattendedMonitor(after: .seconds(60))
        #expect(m.observe(openSessions: 1, consoles: 0, at: t0) == nil)
        #expect(m.observe(openSessions: 1, consoles: 1, at: t0 + .seconds(50)) == nil)
        #expect(m.observe(openSessions: 1, consoles: 0, at: t0 + .seconds(51)) == nil)
        #expect(m.observe(openSessions: 1, consoles: 0, at: t0 + .seconds(110)) == nil)
        #expect(
            m.observe(openSessions: 1, consoles: 0, at: t0 + .seconds(111))
                == .raise(openSessions: 1, for: .seconds(60)))
        #expect(m.observe(openSessions: 0, consoles: 0, at: t0 + .seconds(112)) == .clear(reason: "no session is open"))
    }

    @Test("a lapse that ends in a dispatch counts per hour, in the histogram and by target")
    func statsOfALapseAndDispatch() async throws {
        let h = Harness()
        let quiet = try await h.start()
        let s = try await h.start()
        try await h.engine.execute(quiet.id, .checkIn(source: .operator, note: nil))
        try await h.advance(by: Millis(3100))  // lapsed: escalation, notify supervisors
        try await h.deliver(.escalationStep)
        try await h.advance(by: .seconds(1))  // dispatch step
        try await h.deliver(.dispatchRequested)
        let from = h.time.now() - .seconds(3600)
        let events = h.store.allEvents
        let stats = ShiftFigures.stats(events, from: from, hours: 2, now: h.time.now())
        guard case .array(let hours) = stats["hours"] else { Issue.record("no hours"); return }
        #expect(hours.count == 2)
        #expect(hours.compactMap { $0["sessions"]?.intValue }.reduce(0, +) == 2)
        // Both sessions lapsed (a check-in at the start only moves `quiet`'s deadline); each lapse is counted once.
        let lapses = hours.compactMap { $0["lapses"]?.intValue }.reduce(0, +)
        #expect(lapses == Int64(events.filter { $0.type == .escalationStarted }.count))
        #expect(stats["deadline_to_dispatch"]?["count"]?.intValue ?? 0 >= 1)
        guard case .array(let deliveries) = stats["deliveries"] else { Issue.record("no deliveries"); return }
        let ems = deliveries.first { $0["target"]?.stringValue == Harness.ems.rawValue }
        #expect(ems?["delivered"]?.intValue ?? 0 >= 1)
        #expect(ems?["failed"]?.intValue == 0)
        _ = s
    }

    @Test("the history row names who acted, the outcome and the durations, and no personal data")
    func historyRow() async throws {
        let h = Harness()
        let s = try await h.start()
        try await h.advance(by: Millis(3100))
        try await h.engine.execute(
            s.id, .acknowledge(operator: "ana", note: nil), actor: Actor(name: "ana", role: "operator"))
        try await h.advance(by: .seconds(10))
        try await h.engine.execute(
            s.id, .end(outcome: .safe, by: "bo", note: nil), actor: Actor(name: "bo", role: "supervisor"))
        let ended = try await h.session(s.id)
        let row = ShiftFigures.historyRow(ended, h.store.allEvents.filter { $0.sessionID == s.id })
        #expect(row["outcome"]?.stringValue == "safe")
        #expect(row["acted_by"] == .strings(["ana", "bo"]))
        #expect(row["acknowledged_by"] == .strings(["ana"]))
        #expect(row["ended_by"]?.stringValue == "bo")
        #expect(row["lapses"]?.intValue == 1)
        #expect(row["duration_s"]?.intValue == 13)
        let text = String(decoding: try VigilJSON.encode(row), as: UTF8.self)
        for personal in ["123 Main St", "4B", "+15551234567", "side door", "naloxone"] {
            #expect(!text.contains(personal), "\(personal)")
        }
    }

    @Test("the figures' scan finds the events of the window by binary search, whatever came before")
    func scanFindsTheWindow() async throws {
        let h = Harness()
        for _ in 0..<30 { _ = try await h.start() }
        let cut = h.time.now() + .seconds(1)
        h.time.set(cut + .seconds(5))
        let late = try await h.start()
        let found = try await ShiftFigures.events(since: cut, store: h.store)
        #expect(found.map(\.sessionID) == [late.id])
    }
}
