import Testing
import VigilCore
import VigilTestKit

/// Deadlines that pass together are decided in one engine turn and written as one group: the outcome must be the
/// same, session by session, as firing them one at a time.
@Suite("deadlines fired in batches")
struct BatchFireTests {
    /// Starts `n` sessions, moves the clock to `after` past their start and fires what is due, by batch or singly.
    static func run(batched: Bool, n: Int, after: Millis) async throws -> (Harness, [Session]) {
        let h = Harness()
        var started: [Session] = []
        for _ in 0..<n { started.append(try await h.start()) }
        var left = after.value
        while left > 0 {
            let step = min(100, left)
            left -= step
            let due = h.time.advance(by: Millis(step))
            if batched {
                let r = await h.engine.fire(due)
                #expect(r.errors == 0)
            } else {
                for id in due { try await h.engine.fire(id) }
            }
        }
        return (h, started)
    }

    @Test("50 sessions lapsing together: the same events and notifications as firing them one by one")
    func sameOutcome() async throws {
        let (single, a) = try await Self.run(batched: false, n: 50, after: .seconds(5))
        let (batch, b) = try await Self.run(batched: true, n: 50, after: .seconds(5))
        #expect(a.map(\.id) == b.map(\.id))
        for (x, y) in zip(a, b) {
            #expect(single.types(x.id) == batch.types(y.id))
            #expect(try await single.session(x.id).state == batch.session(y.id).state)
        }
        #expect(single.sent.map(\.0) == batch.sent.map(\.0))
        // The ladder really ran: each session is escalating, its supervisor step and dispatch written.
        #expect(batch.types(b[0].id).contains(.escalationStarted))
        #expect(batch.sent.filter { $0.0 == .dispatchRequested }.count == 50)
    }

    @Test("a commit that fails in a batch fails that session alone; the sweep fires it later")
    func oneFailure() async throws {
        let h = Harness()
        var ids: [SessionID] = []
        for _ in 0..<10 { ids.append(try await h.start().id) }
        let due = h.time.advance(by: .seconds(2))
        #expect(Set(due) == Set(ids))
        h.store.failNextCommit(with: .unavailable("disk full"))
        let r = await h.engine.fire(due)
        #expect(r.fired == 9)
        #expect(r.errors == 1)
        let overdue = try await ids.asyncFilter { try await h.session($0).state == .overdue }
        #expect(overdue.count == 9)
        let swept = await h.engine.sweep()
        #expect(swept.errors == 0)
        for id in ids { #expect(try await h.session(id).state == .overdue) }
    }

    @Test("a session busy with another command is not decided twice: it waits and fires after it")
    func busySession() async throws {
        let h = Harness()
        let s = try await h.start()
        _ = h.time.advance(by: .seconds(2))
        // The same id twice in one batch, and a check-in racing it: each is decided on what the other left.
        async let fired = h.engine.fire([s.id, s.id])
        async let checkIn = h.engine.execute(s.id, .checkIn(source: .operator, note: nil))
        let (r, after) = try await (fired, checkIn)
        #expect(r.errors == 0)
        #expect(after.version >= 2)
        let types = h.types(s.id)
        #expect(types.filter { $0 == .checkInOverdue }.count <= 1)
        #expect(types.contains(.checkInReceived))
    }
}

extension Array {
    func asyncFilter(_ keep: (Element) async throws -> Bool) async rethrows -> [Element] {
        var out: [Element] = []
        for e in self where try await keep(e) { out.append(e) }
        return out
    }
}

extension BatchFireTests {
    @Test("batches, sweeps and check-ins racing on the same sessions: every deadline decided once, nothing lost")
    func racing() async throws {
        let h = Harness()
        var ids: [SessionID] = []
        for _ in 0..<200 { ids.append(try await h.start().id) }
        let all = ids
        let due = h.time.advance(by: .seconds(2))
        await withTaskGroup(of: Void.self) { group in
            for k in 0..<8 {
                group.addTask { _ = await h.engine.fire(Array(due.shuffled().prefix(120))) }
                group.addTask { _ = await h.engine.sweep() }
                group.addTask {
                    for id in all[(k * 25)..<(k * 25 + 25)] {
                        _ = try? await h.engine.execute(id, .checkIn(source: .operator, note: nil))
                    }
                }
            }
        }
        // Every deadline decided exactly once: the session lapsed once, or a check-in came first and re-armed it
        // (then it is active with a later deadline). Nothing lost: no session is left active with a past deadline.
        let now = h.time.now()
        for id in ids {
            let types = h.types(id)
            let overdue = types.filter { $0 == .checkInOverdue }.count
            let s = try await h.session(id)
            if overdue == 0 {
                #expect(types.dropFirst().first == .checkInReceived, "\(id): neither lapsed nor checked in: \(types)")
                #expect(s.state == .active && (s.nextDeadline ?? now) > now, "\(id): its deadline was lost")
            } else {
                #expect(overdue == 1, "\(id): the deadline was decided \(overdue) times")
            }
        }
        // Liveness: with nobody checking in any more, every session's ladder runs to its dispatch.
        try await h.advance(by: .seconds(10))
        let dispatched = Set(h.store.notifications.filter { $0.type == .dispatchRequested }.map(\.sessionID))
        #expect(dispatched == Set(ids), "\(ids.count - dispatched.count) lapses never reached a dispatch")
    }
}
