import Testing
import VigilCore
import VigilTestKit

@Suite("what a dispatcher reads: reason, summary and history")
struct DispatchBriefTests {
    /// 2026-11-22T10:26:00Z: 04:26 in Chicago.
    static let due = Timestamp(millis: 1_795_343_160_000)

    static let gaps: [(Millis, String)] = [
        (.seconds(45), "45 s"), (.seconds(150), "2 min"), (.seconds(3 * 3600 + 300), "3 h 5 min"),
        (.seconds(2 * 86400), "2 d"), (.seconds(3 * 86400 + 4 * 3600 + 59), "3 d 4 h"),
    ]

    @Test("with no grace, the reason names the missed check-in and never says \"0 s after it was due\"")
    func reasonGraceZero() {
        let r = Spoken.missedReason(due: Self.due, now: Self.due)
        #expect(r == "missed the check-in due at 2026-11-22 10:26:00 UTC")
        #expect(Spoken.missedReason(due: Self.due, now: Self.due + Millis(999)) == r)
    }

    @Test(
        "a long gap reads in plain units",
        arguments: DispatchBriefTests.gaps)
    func reasonLongGap(gap: Millis, words: String) {
        #expect(
            Spoken.missedReason(due: Self.due, now: Self.due + gap)
                == "missed the check-in due at 2026-11-22 10:26:00 UTC; no answer for \(words)")
    }

    static func brief(sent: Timestamp, lastContact: Timestamp, marks: [EscalationMark] = []) -> DispatchBrief {
        DispatchBrief(
            type: .dispatchRequested, sent: sent, sessionID: "ses_x",
            facts: DispatchFacts(
                incident: "VGL-ABCD-EFGH", lastContactAt: lastContact, missedCheckInDueAt: due, requestedAt: sent,
                operatorOnDuty: nil, marks: marks),
            location: Location(address: "123 Main St", unit: "4B"), accessNotes: nil, alias: "J",
            callbackNumber: nil, substance: nil,
            hotline: Hotline(callbackNumber: "+18005550100", timeZone: "America/Chicago"),
            reason: nil, references: [])
    }

    @Test("the summary with no grace: local time with its zone, no \"0 s ago\"")
    func summaryGraceZero() {
        let b = Self.brief(sent: Self.due, lastContact: Self.due - .seconds(120))
        #expect(
            b.summary
                == "Suspected overdose: J stopped answering at 04:26 CST (last check-in 04:24 CST). "
                + "At 123 Main St, unit 4B. Call back: hotline +18005550100. Reference VGL-ABCD-EFGH.")
    }

    @Test("the summary after a long gap says how long, and the date of a time on another day")
    func summaryLongGap() {
        let b = Self.brief(sent: Self.due + .seconds(26 * 3600), lastContact: Self.due - .seconds(600))
        #expect(
            b.summary.hasPrefix(
                "Suspected overdose: J stopped answering at Nov 22 04:26 CST, 26 h ago (last check-in Nov 22 04:16 CST)."
            ))
    }

    @Test("a cancel after a check-in says so first, with the time, and puts the check-in last in the history")
    func cancelSummary() {
        var b = Self.brief(sent: Self.due + .seconds(300), lastContact: Self.due + .seconds(300))
        b.type = .dispatchCancelled
        b.facts.cancelReason = "the person checked in"
        #expect(
            b.summary
                == "CANCEL VGL-ABCD-EFGH: the person checked in (04:31 CST). At 123 Main St, unit 4B. "
                + "Call back: hotline +18005550100.")
        #expect(b.history == "no answer since 04:26 CST; checked in 04:31 CST")
    }

    @Test("the history is one line of what the escalation did, in local time")
    func history() {
        let b = Self.brief(
            sent: Self.due + .seconds(150), lastContact: Self.due - .seconds(360),
            marks: [
                EscalationMark(.notified, at: Self.due + .seconds(30), who: "supervisors"),
                EscalationMark(.acknowledged, at: Self.due + .seconds(60), who: "dana"),
                EscalationMark(.dispatchRequested, at: Self.due + .seconds(150), who: "ladder"),
            ])
        #expect(
            b.history
                == "last check-in 04:20 CST; no answer since 04:26 CST; supervisors notified 04:26 CST; "
                + "acknowledged by dana 04:27 CST; dispatch requested 04:28 CST")
    }
}

@Suite("dispatch.updated: the place or the number changed after a target took the dispatch")
struct DispatchUpdateTests {
    /// Runs the default ladder to a dispatch that `ems2` (the failover target) delivered.
    static func dispatched(_ h: Harness) async throws -> Session {
        let s = try await h.start()
        try await h.advance(by: .seconds(4))
        try await h.fail(.dispatchRequested, targetIndex: 0)
        try await h.deliver(.dispatchRequested, targetIndex: 1)
        return try await h.session(s.id)
    }

    static func body(_ item: OutboxItem) throws -> JSONValue { try VigilJSON.decode(JSONValue.self, from: item.body) }

    @Test("a location change sends the target that delivered dispatch.updated, with the whole payload and references")
    func locationChange() async throws {
        let h = Harness()
        let s = try await Self.dispatched(h)
        let request = try #require(h.store.notifications.last { $0.type == .dispatchRequested })
        var moved = s.location
        moved.unit = "5C"
        try await h.engine.execute(s.id, .update(SessionPatch(location: moved), by: "op"))
        let update = try #require(h.store.notifications.last)
        #expect(update.type == .dispatchUpdated)
        #expect(update.targets == ["ems2"])
        let data = try Self.body(update)["data"]
        #expect(data?["session"]?["location"]?["unit"]?.stringValue == "5C")
        #expect(data?["dispatch_facts"]?["changed"] == .strings(["location"]))
        // The request as ems2 received it, not the webhook id meant for ems.
        guard case .array(let refs) = data?["references"] ?? .null else {
            Issue.record("no references")
            return
        }
        #expect(refs.contains(.id(request.webhookIDs[1])))
        #expect(!refs.contains(.id(request.webhookIDs[0])))
        let facts = data?["dispatch_facts"]
        let incident = try Self.body(request)["data"]?["dispatch_facts"]?["incident"]
        #expect(facts?["incident"] == incident, "one incident reference for the whole escalation")
        #expect(h.types(s.id).last == .dispatchUpdated)
    }

    @Test("access notes and the callback number count; the alias alone does not")
    func whichChangesCount() async throws {
        let h = Harness()
        let s = try await Self.dispatched(h)
        let before = h.store.notifications.count
        try await h.engine.execute(
            s.id, .update(SessionPatch(caller: Caller(alias: "Jay", callbackNumber: s.caller.callbackNumber)), by: "op")
        )
        #expect(h.store.notifications.count == before)
        var notes = s.location
        notes.accessNotes = "front door"
        try await h.engine.execute(s.id, .update(SessionPatch(location: notes), by: "op"))
        try await h.engine.execute(
            s.id, .update(SessionPatch(caller: Caller(alias: "Jay", callbackNumber: "+15550000000")), by: "op"))
        let updates = h.store.notifications.filter { $0.type == .dispatchUpdated }
        #expect(updates.count == 2)
        #expect(try Self.body(updates[0])["data"]?["dispatch_facts"]?["changed"] == .strings(["access_notes"]))
        #expect(try Self.body(updates[1])["data"]?["dispatch_facts"]?["changed"] == .strings(["callback_number"]))
    }

    @Test("no update before any target answered 2xx, nor after the cancel")
    func onlyWhileHeld() async throws {
        let h = Harness()
        let s = try await h.start()
        try await h.advance(by: .seconds(4))
        var moved = s.location
        moved.address = "9 Elm St"
        try await h.engine.execute(s.id, .update(SessionPatch(location: moved), by: "op"))
        #expect(!h.store.notifications.contains { $0.type == .dispatchUpdated })
        try await h.deliver(.dispatchRequested)
        try await h.engine.execute(s.id, .checkIn(source: .caller, note: nil))
        #expect(h.store.notifications.last?.type == .dispatchCancelled)
        moved.address = "10 Elm St"
        try await h.engine.execute(s.id, .update(SessionPatch(location: moved), by: "op"))
        #expect(!h.store.notifications.contains { $0.type == .dispatchUpdated })
    }

    @Test("the cancel after an update references the request and the update")
    func cancelReferencesUpdate() async throws {
        let h = Harness()
        let s = try await Self.dispatched(h)
        var moved = s.location
        moved.unit = "5C"
        try await h.engine.execute(s.id, .update(SessionPatch(location: moved), by: "op"))
        let update = try #require(h.store.notifications.last)
        try await h.engine.execute(s.id, .checkIn(source: .caller, note: nil))
        let cancel = try #require(h.store.notifications.last)
        #expect(cancel.type == .dispatchCancelled)
        #expect(cancel.targets == ["ems2"])
        let data = try Self.body(cancel)["data"]
        guard case .array(let refs) = data?["references"] ?? .null,
            case .array(let sent) = data?["dispatch_facts"]?["references_sent"] ?? .null
        else {
            Issue.record("no references")
            return
        }
        #expect(refs.last == .id(update.webhookIDs[0]))
        #expect(sent.count == refs.count, "each reference has the time it was sent")
        #expect(data?["dispatch_facts"]?["cancel_reason"]?.stringValue == "the person checked in")
    }
}
