import Testing
import VigilCore
import VigilTestKit

@Suite("the escalation ladder")
struct LadderTests {
    @Test("a missed check-in goes overdue at due, escalates at due + grace, and dispatches on schedule")
    func ladderRunsOnTime() async throws {
        let h = Harness()
        let s = try await h.start()
        try await h.advance(by: Millis(1900))
        #expect(try await h.session(s.id).state == .active)
        try await h.advance(by: Millis(100))
        #expect(try await h.session(s.id).state == .overdue)
        #expect(h.sent.isEmpty)
        try await h.advance(by: Millis(1000))
        #expect(try await h.session(s.id).state == .escalating)
        #expect(h.sent.map(\.0) == [.escalationStep])
        #expect(h.sent.first?.1 == ["sup"])
        try await h.advance(by: Millis(900))
        #expect(h.sent.count == 1)
        try await h.advance(by: Millis(100))
        #expect(h.sent.map(\.0) == [.escalationStep, .dispatchRequested])
        #expect(h.sent.last?.1 == ["ems", "ems2"])
        #expect(
            h.types(s.id) == [
                .sessionStarted, .checkInOverdue, .escalationStarted, .escalationStep, .dispatchRequested,
            ])
        try await h.deliver(.dispatchRequested)
        let after = try await h.session(s.id)
        #expect(after.state == .dispatched)
        #expect(after.dispatch?.target == "ems")
        #expect(after.nextDeadline == nil)
    }

    @Test("the dispatch body carries the full location, the step and the earlier notifications")
    func dispatchPayload() async throws {
        let h = Harness()
        _ = try await h.start()
        try await h.advance(by: .seconds(4))
        let item = h.store.notifications.last!
        let body = try VigilJSON.decode(JSONValue.self, from: item.body)
        #expect(body["type"]?.stringValue == "dispatch.requested")
        let location = body["data"]?["session"]?["location"]
        #expect(location?["address"]?.stringValue == "123 Main St")
        #expect(location?["unit"]?.stringValue == "4B")
        #expect(location?["access_notes"]?.stringValue == "side door")
        #expect(body["data"]?["escalation_step"]?.intValue == 2)
        #expect(body["data"]?["session"]?["check_in_url"] == nil)
        let refs = body["data"]?["references"]
        #expect(refs == .array([.id(h.store.notifications[0].webhookIDs[0])]))
        let reason = try #require(body["data"]?["reason"]?.stringValue)
        #expect(reason.hasPrefix("missed the check-in due at "))
        #expect(reason.hasSuffix("; no answer for 2 s"))
    }

    @Test("check-ins every second keep the session silent")
    func checkInsKeepSilent() async throws {
        let h = Harness()
        let s = try await h.start()
        for _ in 0..<10 {
            try await h.advance(by: .seconds(1))
            try await h.engine.execute(s.id, .checkIn(source: .caller, note: nil))
        }
        #expect(h.sent.isEmpty)
        #expect(try await h.session(s.id).state == .active)
    }

    @Test("a check-in during escalation stops the ladder and tells those notified")
    func checkInStopsLadder() async throws {
        let h = Harness()
        let s = try await h.start()
        try await h.advance(by: Millis(3100))
        try await h.engine.execute(s.id, .checkIn(source: .operator, note: nil))
        try await h.advance(by: .seconds(1))
        #expect(h.sent.map(\.0) == [.escalationStep, .escalationResolved])
        #expect(h.sent.last?.1 == ["sup"])
        let after = try await h.session(s.id)
        #expect(after.state == .active)
        #expect(after.escalation == nil)
        #expect(after.due == after.lastCheckInAt + .seconds(2))
    }

    @Test("a check-in after dispatch keeps it dispatched and cancels to the accepting target, once")
    func checkInAfterDispatch() async throws {
        let h = Harness()
        let s = try await h.start()
        try await h.advance(by: .seconds(4))
        try await h.fail(.dispatchRequested, targetIndex: 0)
        try await h.deliver(.dispatchRequested, targetIndex: 1)
        try await h.engine.execute(s.id, .checkIn(source: .caller, note: nil))
        try await h.engine.execute(s.id, .checkIn(source: .caller, note: nil))
        #expect(try await h.session(s.id).state == .dispatched)
        let cancels = h.sent.filter { $0.0 == .dispatchCancelled }
        #expect(cancels.count == 1)
        #expect(cancels.first?.1 == ["ems2"])
    }

    @Test("a dispatch accepted after the person checked in is still followed by a cancel")
    func lateAcceptanceIsCancelled() async throws {
        let h = Harness()
        let s = try await h.start()
        try await h.advance(by: .seconds(4))
        try await h.engine.execute(s.id, .checkIn(source: .caller, note: nil))
        #expect(try await h.session(s.id).state == .active)
        try await h.deliver(.dispatchRequested)
        #expect(try await h.session(s.id).state == .active)
        #expect(h.sent.last?.0 == .dispatchCancelled)
        #expect(h.sent.last?.1 == ["ems"])
        #expect(try await h.session(s.id).owedCancels.isEmpty)
    }

    @Test("acknowledge holds the next step for ack_timeout_s; the steps after keep their spacing")
    func acknowledgePauses() async throws {
        let policy = Policy(
            name: "default", ackTimeout: .seconds(5),
            steps: [
                Step(after: .zero, action: .notify(["sup"])), Step(after: .seconds(1), action: .notify(["sup2"])),
                Step(after: .seconds(3), action: .dispatch(["ems"])),
            ])
        let h = Harness(policy: policy)
        let s = try await h.start()
        try await h.advance(by: Millis(3200))
        try await h.engine.execute(s.id, .acknowledge(operator: "ana", note: nil))
        try await h.advance(by: Millis(4900))
        #expect(h.sent.count == 1)
        try await h.advance(by: Millis(100))
        #expect(h.sent.map(\.1) == [["sup"], ["sup2"]])
        try await h.advance(by: Millis(1900))
        #expect(h.sent.count == 2)
        try await h.advance(by: Millis(100))
        #expect(h.sent.last?.0 == .dispatchRequested)
    }

    @Test("an acknowledgement never silences for good: the ladder resumes when it runs out")
    func acknowledgeExpires() async throws {
        let h = Harness()
        let s = try await h.start()
        try await h.advance(by: Millis(3100))
        try await h.engine.execute(s.id, .acknowledge(operator: "ana", note: nil))
        try await h.advance(by: .seconds(60))
        #expect(h.sent.last?.0 == .dispatchRequested)
        #expect(h.types(s.id).contains(.escalationResumed))
    }

    @Test("manual dispatch jumps to the first dispatch step now, and twice is once")
    func manualDispatch() async throws {
        let h = Harness()
        let s = try await h.start()
        try await h.engine.execute(s.id, .dispatchNow(by: "ana"))
        try await h.engine.execute(s.id, .dispatchNow(by: "ana"))
        #expect(h.sent.map(\.0) == [.dispatchRequested])
        #expect(try await h.session(s.id).state == .escalating)
        // The steps before the dispatch step are skipped, not fired later.
        try await h.advance(by: .seconds(10))
        #expect(h.sent.map(\.0) == [.dispatchRequested])
        #expect(h.types(s.id).filter { $0 == .dispatchRequested }.count == 1)
    }

    @Test("a deadline that passed while the service was down fires at once, in order, each step once")
    func lateFireCatchesUp() async throws {
        let h = Harness()
        let s = try await h.start()
        h.time.set(h.time.now() + .seconds(30))
        try await h.engine.fire(s.id)
        try await h.engine.fire(s.id)
        #expect(
            h.types(s.id) == [
                .sessionStarted, .checkInOverdue, .escalationStarted, .escalationStep, .dispatchRequested,
            ])
        let overdue = h.store.allEvents.first { $0.type == .checkInOverdue }!
        #expect(overdue.data["late_ms"]?.intValue == 28_000)
    }

    @Test("a timer that fires early, or after the clock stepped back, changes nothing")
    func earlyFireIsIgnored() async throws {
        let h = Harness()
        let s = try await h.start()
        try await h.engine.fire(s.id)
        #expect(h.types(s.id) == [.sessionStarted])
        #expect(h.time.deadline(of: s.id) == s.due)
    }

    @Test("a target that fails moves the dispatch to the next; when all fail, delivery.failed alarms")
    func failover() async throws {
        let h = Harness()
        let s = try await h.start()
        try await h.advance(by: .seconds(4))
        try await h.fail(.dispatchRequested, targetIndex: 0)
        var item = h.store.notifications.last { $0.type == .dispatchRequested }!
        #expect(item.targetIndex == 1)
        #expect(item.status == .pending)
        try await h.fail(.dispatchRequested, targetIndex: 1)
        item = h.store.notifications.first { $0.type == .dispatchRequested }!
        #expect(item.status == .failed)
        let after = try await h.session(s.id)
        #expect(after.deliveryFailures == 1)
        #expect(after.dispatch?.failedAt != nil)
        #expect(h.types(s.id).suffix(3) == [.deliveryTargetFailed, .deliveryTargetFailed, .deliveryFailed])
        #expect(h.sent.last?.0 == .deliveryFailed)
        #expect(h.sent.last?.1 == ["alarm"])
        // After a failed dispatch an operator can dispatch again.
        try await h.engine.execute(s.id, .dispatchNow(by: "ana"))
        #expect(h.sent.filter { $0.0 == .dispatchRequested }.count == 2)
    }

    @Test("each target gets its own webhook id")
    func webhookIDsPerTarget() async throws {
        let h = Harness()
        _ = try await h.start()
        try await h.advance(by: .seconds(4))
        let item = h.store.notifications.last!
        #expect(item.webhookIDs.count == 2)
        #expect(Set(item.webhookIDs).count == 2)
        #expect(item.webhookIDs.allSatisfy { $0.rawValue.hasPrefix("msg_") })
    }

    @Test("an ended session never notifies and refuses commands")
    func endedIsSilent() async throws {
        let h = Harness()
        let s = try await h.start()
        try await h.engine.execute(s.id, .end(outcome: .safe, by: "ana", note: nil))
        try await h.advance(by: .seconds(60))
        #expect(h.sent.isEmpty)
        await #expect(throws: VigilError.sessionEnded) {
            try await h.engine.execute(s.id, .checkIn(source: .caller, note: nil))
        }
        await #expect(throws: VigilError.sessionEnded) {
            try await h.engine.execute(s.id, .end(outcome: .safe, by: "ana", note: nil))
        }
        #expect(await h.engine.session(token: s.checkInToken) == nil)
    }

    @Test("a failed write leaves the session as it was")
    func failedWriteChangesNothing() async throws {
        let h = Harness()
        let s = try await h.start()
        h.store.failNextCommit(with: VigilError(.storageFull, "disk full"))
        await #expect(throws: VigilError.self) {
            try await h.engine.execute(s.id, .checkIn(source: .caller, note: nil))
        }
        #expect(try await h.session(s.id) == s)
    }

    @Test("recover re-arms every open session from the store")
    func recoverRearms() async throws {
        let h = Harness()
        let s = try await h.start()
        let other = SessionEngine(
            store: h.store, scheduler: h.time, clock: h.time, policies: ["default": Harness.ladder],
            observer: RecordingObserver())
        h.time.disarm(s.id)
        #expect(try await other.recover() == 1)
        #expect(h.time.deadline(of: s.id) == s.due)
    }
}
