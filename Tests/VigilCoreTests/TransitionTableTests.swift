import Testing
import VigilCore
import VigilTestKit

/// Every command in every state: the state that follows, or the error.
@Suite("the state machine, command by state")
struct TransitionTableTests {
    enum Expect: Equatable {
        case state(SessionState)
        case error(VigilError.Code)
    }

    /// A session brought to `state` by real commands.
    static func reach(_ state: SessionState, _ h: Harness) async throws -> Session {
        let s = try await h.start()
        switch state {
        case .active: break
        case .overdue: try await h.advance(by: Millis(2500))
        case .escalating: try await h.advance(by: Millis(3500))
        case .dispatched:
            try await h.advance(by: .seconds(4))
            try await h.deliver(.dispatchRequested)
        case .ended: try await h.engine.execute(s.id, .end(outcome: .safe, by: "ana", note: nil))
        }
        let reached = try await h.session(s.id)
        #expect(reached.state == state)
        return reached
    }

    static let commands: [(String, Command)] = [
        ("check-in", .checkIn(source: .caller, note: nil)),
        ("acknowledge", .acknowledge(operator: "ana", note: nil)),
        ("dispatch", .dispatchNow(by: "ana")),
        ("end", .end(outcome: .falseAlarm, by: "ana", note: nil)),
        ("update", .update(SessionPatch(interval: .seconds(60)), by: "ana")),
        ("dispatch-status", .dispatchStatus(.enRoute, reference: "R1", by: "ems")),
    ]

    static let table: [SessionState: [String: Expect]] = [
        .active: [
            "check-in": .state(.active), "acknowledge": .error(.conflict), "dispatch": .state(.escalating),
            "end": .state(.ended), "update": .state(.active), "dispatch-status": .error(.conflict),
        ],
        .overdue: [
            "check-in": .state(.active), "acknowledge": .state(.overdue), "dispatch": .state(.escalating),
            "end": .state(.ended), "update": .state(.overdue), "dispatch-status": .error(.conflict),
        ],
        .escalating: [
            "check-in": .state(.active), "acknowledge": .state(.escalating), "dispatch": .state(.escalating),
            "end": .state(.ended), "update": .state(.escalating), "dispatch-status": .error(.conflict),
        ],
        .dispatched: [
            "check-in": .state(.dispatched), "acknowledge": .state(.dispatched), "dispatch": .state(.dispatched),
            "end": .state(.ended), "update": .state(.dispatched), "dispatch-status": .state(.dispatched),
        ],
        .ended: [
            "check-in": .error(.conflict), "acknowledge": .error(.conflict), "dispatch": .error(.conflict),
            "end": .error(.conflict), "update": .error(.conflict), "dispatch-status": .error(.conflict),
        ],
    ]

    @Test(
        "each command in each state", arguments: SessionState.allCases,
        ["check-in", "acknowledge", "dispatch", "end", "update", "dispatch-status"])
    func transition(state: SessionState, command: String) async throws {
        let h = Harness()
        let s = try await Self.reach(state, h)
        let cmd = Self.commands.first { $0.0 == command }!.1
        let expected = Self.table[state]![command]!
        let eventsBefore = h.store.allEvents.count
        do {
            let after = try await h.engine.execute(s.id, cmd)
            #expect(expected == .state(after.state), "\(state) + \(command)")
        } catch let e as VigilError {
            #expect(expected == .error(e.code), "\(state) + \(command): \(e)")
            #expect(h.store.allEvents.count == eventsBefore, "a rejected command logs nothing")
        }
    }

    @Test("a dispatched session ended as anything but ems_attended tells the dispatcher")
    func endAfterDispatchCancels() async throws {
        let h = Harness()
        let s = try await Self.reach(.dispatched, h)
        try await h.engine.execute(s.id, .end(outcome: .falseAlarm, by: "ana", note: nil))
        #expect(h.sent.last?.0 == .dispatchCancelled)
        let h2 = Harness()
        let s2 = try await Self.reach(.dispatched, h2)
        try await h2.engine.execute(s2.id, .end(outcome: .emsAttended, by: "ana", note: nil))
        #expect(h2.sent.last?.0 == .dispatchRequested)
    }
}
