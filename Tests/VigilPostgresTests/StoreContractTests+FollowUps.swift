import Foundation
import Testing

@testable import VigilCore

extension StoreContractTests {
    @Test(
        "a follow-up, a route and an accept deadline read back; listing, closing when ended and purging work",
        arguments: Kind.durable)
    func followUps(kind: Kind) async throws {
        try await Self.with(kind) { store in
            var s = Self.session(8)
            s.routing = RoutingState(route: SessionRoute(target: "ems", matched: "region IL"))
            s.state = .dispatched
            var d = DispatchRecord(
                notification: NotificationID(rawValue: "ntf_fu"), requestedAt: Self.t0, requestedBy: "ladder",
                targets: ["ems"])
            var rec = TargetDelivery(
                target: "ems", notification: d.notification, webhookID: "msg_fu", deliveredAt: Self.t0)
            rec.acceptBy = Self.t0 + .seconds(120)
            d.deliveries = [rec]
            d.deliveredAt = Self.t0
            s.dispatch = d
            s.followUp = FollowUp(id: FollowUp.id(for: s.id), createdAt: Self.t0, dueAt: Self.t0 + .seconds(86_400))
            _ = try await Self.start(store, s)
            _ = try await Self.start(store, Self.session(9))
            #expect(try await store.session(s.id) == s)
            // The accept deadline is the session's stored deadline: it survives a restart and the sweep finds it.
            #expect(!(try await store.sessionsDue(before: Self.t0 + .seconds(119)).contains(s.id)))
            #expect(try await store.sessionsDue(before: Self.t0 + .seconds(120)).contains(s.id))
            #expect(try await store.followUps(state: "open").map(\.id) == [s.id])
            // Ended, then closed with a note: the close is a commit on an ended session.
            var ended = s
            ended.state = .ended
            ended.endedAt = Self.t0 + .seconds(10)
            ended.outcome = .emsAttended
            ended.version = 2
            _ = try await store.commit(
                CommitBatch(
                    session: ended, expectedVersion: 1, sessionID: s.id,
                    events: [NewEvent(.sessionEnded, at: Self.t0 + .seconds(10))], outbox: [], outboxUpdates: []))
            var closed = ended
            closed.followUp?.outcome = .revived
            closed.followUp?.note = "called back"
            closed.followUp?.closedAt = Self.t0 + .seconds(20)
            closed.version = 3
            _ = try await store.commit(
                CommitBatch(
                    session: closed, expectedVersion: 2, sessionID: s.id,
                    events: [
                        NewEvent(
                            EventData.FollowUpClosed(
                                followUp: FollowUp.id(for: s.id), outcome: .revived, naloxoneUsed: nil, by: "op"),
                            at: Self.t0 + .seconds(20))
                    ],
                    outbox: [], outboxUpdates: []))
            #expect(try await store.followUps(state: "open").isEmpty)
            #expect(try await store.followUps(state: "closed").map(\.id) == [s.id])
            #expect(try await store.summary(from: nil, to: nil).followUpOutcomes == ["revived": 1])
            _ = try await store.purgeEnded(before: Self.t0 + .seconds(3600))
            let purged = try await store.session(s.id)
            #expect(purged?.followUp?.note == nil)
            #expect(purged?.followUp?.outcome == .revived)
        }
    }
}
