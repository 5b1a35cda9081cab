import Synchronization
import Testing
import VigilCore
import VigilTestKit

/// After an outage, the deadlines that fell due while nothing watched are counted for the mass lapse by their due
/// times before any of them is decided (docs/contract.md, "After an outage").
/// The mass-lapse alarms raised, with their counts.
final class Alarms: Sendable {
    let counts = Mutex<[Int]>([])
}

@Suite("after an outage: lapses that fell due while nothing watched are counted before any is decided")
struct OutageRecoveryTests {
    static let t0 = Timestamp(seconds: 1_795_341_600)

    static func policy(hold: Millis) -> Policy {
        var p = Policy(
            name: "default", ackTimeout: .seconds(60), steps: [Step(after: .zero, action: .dispatch([Harness.ems]))])
        p.holdDispatchOnMassLapse = hold
        return p
    }

    /// A store holding `n` sessions started 2 s apart (each lapses 11 s after its start: within 60 s of each
    /// other), and the engine of a process that comes back `downFor` after the first started, with nothing
    /// decided meanwhile.
    static func restart(
        sessions n: Int, hold: Millis, downFor: Millis
    ) async throws -> (engine: SessionEngine, time: ManualTime, store: InMemoryStore, alarms: Alarms) {
        let store = InMemoryStore()
        let before = ManualTime(start: t0)
        let first = SessionEngine(
            store: store, scheduler: before, clock: before, policies: ["default": policy(hold: hold)],
            observer: RecordingObserver())
        for k in 0..<n {
            if k > 0 { _ = before.advance(by: .seconds(2)) }
            _ = try await first.start(
                StartRequest(
                    caller: Caller(alias: "P\(k)"), location: Location(address: "1 Main St"), interval: .seconds(10),
                    grace: .seconds(1), policy: "default", notes: nil))
        }
        // kill -9: the first engine decides nothing more. The next process starts later.
        let time = ManualTime(start: t0 + downFor)
        let engine = SessionEngine(
            store: store, scheduler: time, clock: time, policies: ["default": policy(hold: hold)],
            observer: RecordingObserver())
        let alarms = Alarms()
        try await engine.recover()
        await engine.setMassLapse(MassLapseSettings(sessions: 10, within: .seconds(60))) { count, _ in
            alarms.counts.withLock { $0.append(count) }
        }
        return (engine, time, store, alarms)
    }

    static func dispatches(_ store: InMemoryStore) -> Int {
        store.notifications.filter { $0.type == .dispatchRequested }.count
    }

    static func waitFor(_ f: () -> Bool) async {
        for _ in 0..<1000 where !f() { await Task.yield() }
    }

    @Test("12 lapses while down, decided one at a time after the recovery pass: one alarm of 12, all held from then")
    func heldFromRecovery() async throws {
        let (engine, time, store, alarms) = try await Self.restart(
            sessions: 12, hold: .seconds(30), downFor: .seconds(600))
        let lapsed = await engine.recoverOverdue()
        #expect(lapsed.count == 12)
        #expect(lapsed.map(\.alias) == (0..<12).map { "P\($0)" }, "oldest lapse first")
        #expect(lapsed.first?.lapsedAt == Self.t0 + .seconds(11))
        // The timer reports them one by one (the single path, which counts nothing ahead by itself).
        for id in time.advance(by: Millis(100)) { try await engine.fire(id) }
        await Self.waitFor { !alarms.counts.withLock { $0.isEmpty } }
        #expect(alarms.counts.withLock { $0 } == [12], "one alarm, saying how many lapsed")
        #expect(Self.dispatches(store) == 0, "no dispatch before the hold ends")
        let recoveredAt = Self.t0 + .seconds(600) + Millis(100)
        for s in await engine.openSessions() {
            #expect(s.massLapseHoldUntil == recoveredAt + .seconds(30), "\(s.caller.alias ?? "") held from recovery")
        }
        for _ in 0..<299 { for id in time.advance(by: Millis(100)) { try await engine.fire(id) } }
        #expect(Self.dispatches(store) == 0)
        for _ in 0..<2 { for id in time.advance(by: Millis(100)) { try await engine.fire(id) } }
        #expect(Self.dispatches(store) == 12)
        #expect(alarms.counts.withLock { $0 } == [12], "the alarm is not repeated")
    }

    @Test("the same through the batched path: the timer reports all twelve together")
    func batched() async throws {
        let (engine, time, store, alarms) = try await Self.restart(
            sessions: 12, hold: .seconds(30), downFor: .seconds(600))
        _ = await engine.fire(time.advance(by: Millis(100)))
        await Self.waitFor { !alarms.counts.withLock { $0.isEmpty } }
        #expect(alarms.counts.withLock { $0 } == [12])
        #expect(Self.dispatches(store) == 0, "every one of them caught before any was decided")
        let held = await engine.openSessions().filter { $0.massLapseHoldUntil != nil }
        #expect(held.count == 12)
    }

    @Test("with no hold configured they proceed as usual, and the alarm still says how many")
    func noHold() async throws {
        let (engine, time, store, alarms) = try await Self.restart(sessions: 12, hold: .zero, downFor: .seconds(600))
        await engine.recoverOverdue()
        for id in time.advance(by: Millis(100)) { try await engine.fire(id) }
        await Self.waitFor { !alarms.counts.withLock { $0.isEmpty } }
        #expect(alarms.counts.withLock { $0 } == [12])
        #expect(Self.dispatches(store) == 12)
    }

    @Test("ten lapses while down (not more than `sessions`) are counted but are no episode")
    func noEpisode() async throws {
        let (engine, time, store, alarms) = try await Self.restart(
            sessions: 10, hold: .seconds(30), downFor: .seconds(600))
        #expect(await engine.recoverOverdue().count == 10)
        for id in time.advance(by: Millis(100)) { try await engine.fire(id) }
        for _ in 0..<100 { await Task.yield() }
        #expect(alarms.counts.withLock { $0 }.isEmpty)
        #expect(Self.dispatches(store) == 10)
    }
}
