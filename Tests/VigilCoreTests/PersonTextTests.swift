import Testing
import VigilCore
import VigilTestKit

@Suite("texts to the person: reminders before each due time, a prompt from the ladder, the gateway's later word")
struct PersonTextTests {
    static let sms: TargetName = "sms"

    /// A reminder 60 s before each due time; a prompt at the end of the grace; EMS 10 s later.
    static func policy(remind: Bool = true, steps: [Step]? = nil) -> Policy {
        var p = Policy(
            name: "default", ackTimeout: .seconds(5),
            steps: steps ?? [
                Step(after: .zero, action: .contactPerson(via: sms)),
                Step(after: .seconds(10), action: .dispatch([Harness.ems])),
            ], onDeliveryFailure: [Harness.alarm])
        if remind { p.remind = Reminder(before: .seconds(60), via: sms) }
        p.linkBase = "https://vigil.example.org/"
        return p
    }

    /// Every 300 s, 30 s of grace, the person's own number.
    static func request(number: String? = "+15551234567", reminders: Bool? = nil) -> StartRequest {
        var r = Harness.request
        r.interval = .seconds(300)
        r.grace = .seconds(30)
        r.caller.callbackNumber = number
        r.substance = "fentanyl"
        r.reminders = reminders
        return r
    }

    static func data(_ item: OutboxItem) throws -> JSONValue? {
        try VigilJSON.decode(JSONValue.self, from: item.body)["data"]
    }

    /// What no text to the person may say: the address, the substance, the word overdose in any language.
    static func discreet(_ message: String) -> Bool {
        let m = message.lowercased()
        return !["123 main st", "fentanyl", "overdose", "sobredosis", "surdose", "side door", "?"].contains {
            m.contains($0)
        }
    }

    @Test("a reminder goes before_s before the due time, once, to the number, with the link and no address")
    func reminderBeforeDue() async throws {
        let h = Harness(policy: Self.policy())
        let s = try await h.start(Self.request())
        #expect(h.time.deadline(of: s.id) == s.due - .seconds(60), "the reminder is armed like a step")
        try await h.advance(by: Millis(239_900))
        #expect(h.sent.isEmpty)
        try await h.advance(by: Millis(100))
        try #require(h.sent.map(\.0) == [.personReminder])
        #expect(h.sent.first?.1 == [Self.sms])
        let data = try Self.data(h.store.notifications[0])
        #expect(data?["to"]?.stringValue == "+15551234567")
        #expect(data?["due_at"]?.stringValue == s.due.rfc3339)
        #expect(data?["language"]?.stringValue == "en")
        let link = "https://vigil.example.org/c/" + s.checkInToken
        #expect(data?["check_in_url"]?.stringValue == link)
        let message = data?["message"]?.stringValue ?? ""
        #expect(message.contains(link))
        #expect(message.contains("Reply OK if you are OK, HELP for help"))
        #expect(Self.discreet(message), "\(message)")
        #expect(data?["session"] == ["id": .string(s.id.rawValue), "state": "active", "caller": ["alias": "J"]])
        #expect(h.types(s.id).last == .personReminder)
        #expect(try await h.session(s.id).state == .active)
        try await h.advance(by: .seconds(59))
        #expect(h.sent.count == 1, "one reminder per due time")
    }

    @Test("a check-in moves the due time, and the next due time has its own reminder")
    func nextDueHasItsOwn() async throws {
        let h = Harness(policy: Self.policy())
        let s = try await h.start(Self.request())
        try await h.advance(by: .seconds(250))
        try await h.engine.execute(s.id, .checkIn(source: .sms, note: nil))
        let due = try await h.session(s.id).due
        try await h.advance(by: .seconds(239))
        #expect(h.sent.count == 1)
        try await h.advance(by: .seconds(1))
        try #require(h.sent.map(\.0) == [.personReminder, .personReminder])
        #expect(try Self.data(h.store.notifications[1])?["due_at"]?.stringValue == due.rfc3339)
    }

    @Test(
        "no reminder for a session that turned them off, has no number, or an interval shorter than before_s",
        arguments: [
            (Self.request(reminders: false), "reminders false"),
            (Self.request(number: nil), "no number"),
            (Self.request(number: ""), "an empty number"),
        ])
    func noReminder(_ r: StartRequest, _ why: String) async throws {
        let h = Harness(policy: Self.policy(steps: []))
        let s = try await h.start(r)
        #expect(h.time.deadline(of: s.id) == s.due, "\(why): only the due time is armed")
        try await h.advance(by: .seconds(299))
        #expect(h.sent.isEmpty, "\(why)")
    }

    @Test("an interval no longer than before_s gets no reminder")
    func shortInterval() async throws {
        let h = Harness(policy: Self.policy(steps: []))
        var r = Self.request()
        r.interval = .seconds(60)
        let s = try await h.start(r)
        #expect(h.time.deadline(of: s.id) == s.due)
        try await h.advance(by: .seconds(59))
        #expect(h.sent.isEmpty)
    }

    @Test("PATCH reminders false stops the reminders; true brings them back")
    func patchReminders() async throws {
        let h = Harness(policy: Self.policy(steps: []))
        let s = try await h.start(Self.request())
        var off = SessionPatch()
        off.reminders = false
        let after = try await h.engine.execute(s.id, .update(off, by: "op"))
        #expect(after.reminders == false)
        #expect(h.store.allEvents.last?.data["fields"] == ["reminders"])
        try await h.advance(by: .seconds(299))
        #expect(h.sent.isEmpty)
        try await h.engine.execute(s.id, .checkIn(source: .operator, note: nil))
        var on = SessionPatch()
        on.reminders = true
        _ = try await h.engine.execute(s.id, .update(on, by: "op"))
        try await h.advance(by: .seconds(240))
        #expect(h.sent.map(\.0) == [.personReminder])
    }

    @Test("a contact: person step prompts the person at its time, without the address")
    func prompt() async throws {
        let h = Harness(policy: Self.policy(remind: false))
        let s = try await h.start(Self.request())
        try await h.advance(by: Millis(329_900))
        #expect(h.sent.isEmpty)
        try await h.advance(by: Millis(100))
        try #require(h.sent.map(\.0) == [.personPrompted])
        let data = try Self.data(h.store.notifications[0])
        #expect(data?["to"]?.stringValue == "+15551234567")
        #expect(data?["due_at"]?.stringValue == s.due.rfc3339, "the due time that was missed")
        let message = data?["message"]?.stringValue ?? ""
        #expect(message.contains("https://vigil.example.org/c/" + s.checkInToken))
        #expect(message.contains("Reply OK if you are OK, HELP for help"))
        #expect(Self.discreet(message), "\(message)")
        let step = h.store.allEvents.last { $0.type == .escalationStep }
        #expect(step?.data["action"]?.stringValue == "contact_person")
        try await h.advance(by: .seconds(10))
        #expect(h.sent.map(\.0) == [.personPrompted, .dispatchRequested], "the ladder goes on")
    }

    @Test("a contact: person step without a number is skipped, and the ladder goes on")
    func promptWithoutNumber() async throws {
        let h = Harness(policy: Self.policy(remind: false))
        _ = try await h.start(Self.request(number: nil))
        try await h.advance(by: .seconds(330))
        #expect(h.sent.isEmpty)
        let step = h.store.allEvents.last { $0.type == .escalationStep }
        #expect(step?.data["skipped"]?.stringValue == "the session has no callback number")
        try await h.advance(by: .seconds(10))
        #expect(h.sent.map(\.0) == [.dispatchRequested])
    }

    @Test("an undelivered responder's text contacts the next responder at once; delivered is only recorded")
    func undeliveredResponder() async throws {
        let h = Harness(
            policy: Self.policy(
                remind: false,
                steps: [
                    Step(after: .zero, action: .contactResponders(via: Self.sms, answer: .seconds(90))),
                    Step(after: .seconds(600), action: .dispatch([Harness.ems])),
                ]))
        var r = Self.request()
        r.responders = [Responder(name: "Sam", phone: "+15557654321"), Responder(name: "Kim", phone: "+15550001111")]
        let s = try await h.start(r)
        try await h.advance(by: .seconds(330))
        try #require(h.sent.map(\.0) == [.responderRequested])
        let first = h.store.notifications[0]
        try await h.engine.execute(
            s.id, .textStatus(TextStatusReport(status: .delivered, notification: first.id, type: first.type)))
        #expect(h.sent.count == 1, "delivered moves nothing")
        #expect(h.types(s.id).last == .smsStatus)
        try await h.engine.execute(
            s.id,
            .textStatus(
                TextStatusReport(
                    status: .undelivered, notification: first.id, type: first.type, target: Self.sms,
                    errorCode: "30003")))
        try #require(h.sent.map(\.0) == [.responderRequested, .responderRequested, .deliveryFailed])
        #expect(try Self.data(h.store.notifications[1])?["responder"]?["name"]?.stringValue == "Kim")
        #expect(h.store.notifications[2].targets == [Harness.alarm])
        let after = try await h.session(s.id)
        #expect(after.deliveryFailures == 1, "the console's alarm")
        #expect(after.responderRun?.current == 1)
        let failed = h.store.allEvents.last { $0.type == .deliveryFailed }
        #expect(failed?.data["reason"]?.stringValue == "the gateway reported the text undelivered (error 30003)")
    }

    @Test("a failed reminder raises the alarm and changes nothing else")
    func failedReminder() async throws {
        let h = Harness(policy: Self.policy(steps: []))
        let s = try await h.start(Self.request())
        try await h.advance(by: .seconds(240))
        try #require(h.sent.map(\.0) == [.personReminder])
        let item = h.store.notifications[0]
        try await h.engine.execute(
            s.id, .textStatus(TextStatusReport(status: .failed, notification: item.id, type: item.type)))
        let after = try await h.session(s.id)
        #expect(after.state == .active)
        #expect(after.deliveryFailures == 1)
        #expect(h.types(s.id).suffix(2) == [.smsStatus, .deliveryFailed])
    }
}
