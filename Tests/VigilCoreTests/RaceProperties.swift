import PropertyBased
import Testing
import VigilCore
import VigilTestKit

/// Random interleavings of everything that can happen to one session, checked against the invariants that
/// matter: a check-in before dispatch prevents it, one escalation dispatches at most once, an ended session never
/// notifies, every event reported is in the log.
@Suite("race properties")
struct RaceProperties {
    enum Action: Int, CaseIterable {
        case wait100, wait700, wait2000, checkIn, acknowledge, dispatch, end, deliverLast, failLast, deadlineTwice
    }

    @Test("random interleavings keep every invariant")
    func interleavings() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...(Action.allCases.count - 1)).array(of: 1...60)) {
            codes in
            await Self.check(codes.map { Action(rawValue: $0)! })
        }
    }

    static func check(_ actions: [Action]) async {
        let h = Harness()
        guard let s = try? await h.start() else {
            Issue.record("start failed")
            return
        }
        var ended = false
        var notificationsAtEnd = 0
        for action in actions {
            let before = (try? await h.session(s.id)) ?? s
            switch action {
            case .wait100: try? await h.advance(by: Millis(100))
            case .wait700: try? await h.advance(by: Millis(700))
            case .wait2000: try? await h.advance(by: Millis(2000))
            case .checkIn: _ = try? await h.engine.execute(s.id, .checkIn(source: .caller, note: nil))
            case .acknowledge: _ = try? await h.engine.execute(s.id, .acknowledge(operator: "ana", note: nil))
            case .dispatch: _ = try? await h.engine.execute(s.id, .dispatchNow(by: "ana"))
            case .end:
                if (try? await h.engine.execute(s.id, .end(outcome: .falseAlarm, by: "ana", note: nil))) != nil {
                    ended = true
                    notificationsAtEnd = h.store.notifications.count
                }
            case .deliverLast:
                if let item = h.store.notifications.last(where: { $0.status == .pending }) {
                    _ = try? await h.engine.execute(
                        s.id, .delivery(item, .delivered(targetIndex: item.targetIndex, status: 200, attempts: 1)))
                }
            case .failLast:
                if let item = h.store.notifications.last(where: { $0.status == .pending }) {
                    _ = try? await h.engine.execute(
                        s.id, .delivery(item, .targetFailed(targetIndex: item.targetIndex, reason: "x", attempts: 1)))
                }
            case .deadlineTwice:
                try? await h.engine.fire(s.id)
                try? await h.engine.fire(s.id)
            }
            let after = (try? await h.session(s.id)) ?? before
            // A check-in before any acceptance leaves the session active, never dispatched.
            if action == .checkIn, before.state != .dispatched, before.state != .ended {
                #expect(after.state == .active)
            }
            if after.state == .dispatched { #expect(after.dispatch?.deliveredAt != nil) }
            if ended {
                let escalationsAfterEnd = h.store.notifications.dropFirst(notificationsAtEnd).filter {
                    $0.type == .escalationStep || $0.type == .dispatchRequested || $0.type == .escalationResolved
                }
                #expect(escalationsAfterEnd.isEmpty, "an ended session notified: \(actions)")
            }
        }
        #expect(h.observer.events.map(\.seq) == h.store.allEvents.map(\.seq), "every event reported is in the log")
        #expect(Set(h.store.allEvents.map(\.seq)).count == h.store.allEvents.count)
        // Each escalation (between check-ins) requests at most one dispatch unless the previous one failed.
        var live = 0
        for e in h.store.allEvents {
            switch e.type {
            case .checkInReceived where e.data["previous_state"]?.stringValue != "dispatched": live = 0
            case .dispatchRequested:
                live += 1
                #expect(live <= 1, "two live dispatches in one escalation: \(actions)")
            case .deliveryFailed where e.data["dispatch"] == .bool(true): live -= 1
            default: break
            }
        }
    }
}
