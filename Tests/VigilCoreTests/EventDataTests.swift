import Foundation
import Testing

@testable import VigilCore

/// Typed event payloads and the direct `JSONValue` coders they go through.
@Suite("typed event data and the JSONValue coders")
struct EventDataTests {
    static let t0 = Timestamp(millis: 1_764_000_000_000)

    /// The generic path the coders replace: Foundation's encoder, then the parser.
    static func viaBytes(_ v: some Encodable) throws -> JSONValue {
        try VigilJSON.decode(JSONValue.self, from: VigilJSON.encode(v))
    }

    @Test(
        "property names become snake case, keys already in snake case stay",
        arguments: [
            ("lateMs", "late_ms"), ("webhookIDs", "webhook_ids"), ("webhookID", "webhook_id"),
            ("checkInIntervalS", "check_in_interval_s"), ("responderURL", "responder_url"),
            ("missedCheckInDueAt", "missed_check_in_due_at"), ("due_at", "due_at"), ("step", "step"),
            ("in2Hours", "in2_hours"),
        ])
    func snakeCase(_ name: String, _ expected: String) {
        #expect(JSONValueEncoder.snakeCase(name) == expected)
    }

    @Test("the encoder gives the same JSON as JSONEncoder for the types webhooks carry")
    func sameAsFoundation() throws {
        var s = Session(
            id: SessionID(rawValue: "ses_x"), caller: Caller(alias: "Sam", callbackNumber: "+15551234567"),
            location: Location(
                address: "1 Main St", unit: "4B", city: "Springfield", latitude: 40.7, longitude: -74.0,
                accessNotes: "side door", accuracyM: 12.0),
            notes: "line\nbreak \"quoted\"", interval: .seconds(300), grace: .seconds(60), policy: .consoleOnly,
            checkInToken: "tok", at: Self.t0)
        s.responders = [Responder(name: "Alex", phone: "+15550000000")]
        let view = SessionView(s, checkInURL: nil)
        // The same bytes: a whole number held as a Double (`accuracy_m` 12.0) is `.double` here and `.int` once
        // parsed from `12`, and both are written `12`.
        #expect(try VigilJSON.encode(JSONValueEncoder.encode(view)) == VigilJSON.encode(view))
        #expect(try VigilJSON.encode(JSONValueEncoder.encode(s.location)) == VigilJSON.encode(s.location))
        let facts = DispatchFacts(
            incident: "VGL-1", lastContactAt: Self.t0, missedCheckInDueAt: Self.t0 + .seconds(300),
            requestedAt: nil, operatorOnDuty: "op", marks: [EscalationMark(.notified, at: Self.t0, who: "sup")])
        #expect(try JSONValueEncoder.encode(facts) == Self.viaBytes(facts))
        // Optionals written explicitly as null stay null; optionals left out stay out.
        #expect(try JSONValueEncoder.encode(view)["check_in_url"] == Self.viaBytes(view)["check_in_url"])
    }

    @Test("a dictionary's keys and a nested type's own keys are never renamed")
    func nestedKeysStay() throws {
        struct Holder: Encodable {
            var byTarget: [String: Int]
            var caller: Caller
        }
        let v = try JSONValueEncoder.encode(
            Holder(byTarget: ["EMS-North": 1, "opsPager": 2], caller: Caller(callbackNumber: "+1555")),
            snakeCaseKeys: true)
        #expect(v == ["by_target": ["EMS-North": 1, "opsPager": 2], "caller": ["callback_number": "+1555"]])
    }

    @Test("keys named in nullWhenAbsent are null when absent; other absent optionals are left out")
    func nulls() {
        let received = EventData.CheckInReceived(source: .operator, note: nil, previousState: .dispatched)
        #expect(received.json() == ["source": "operator", "note": nil, "previous_state": "dispatched"])
        let ack = EventData.EscalationAcknowledged(operator: "dana", note: nil, pausedUntil: nil)
        #expect(ack.json() == ["operator": "dana", "note": nil, "paused_until": nil])
        let failed = EventData.DeliveryTargetFailed(
            type: .escalationStep, target: "sup", reason: "HTTP 500", attempts: 3, webhookID: "msg_1",
            notification: NotificationID(rawValue: "ntf_1"))
        #expect(failed.json()["next_target"] == nil)
        #expect(failed.json()["webhook_id"] == "msg_1")
        let unaccepted = EventData.DispatchUnaccepted(target: "ems", reason: "rejected", alarm: true)
        #expect(unaccepted.json()["next_target"] == .null)
        #expect(unaccepted.json()["scheduled_at"] == nil)
    }

    @Test("an event reads back as its own type, and as no other")
    func roundTrip() throws {
        let step = EventData.EscalationStep(
            step: 2, action: .notify, targets: ["sup", "ops"], scheduledAt: Self.t0, lateMs: Millis(12),
            webhookIDs: ["msg_a", "msg_b"])
        #expect(
            step.json()
                == [
                    "step": 2, "action": "notify", "targets": ["sup", "ops"], "scheduled_at": .time(Self.t0),
                    "late_ms": 12, "webhook_ids": ["msg_a", "msg_b"],
                ])
        let stored = StoredEvent(
            seq: 1, sessionID: SessionID(rawValue: "ses_x"), type: .escalationStep, at: Self.t0, data: step.json())
        #expect(stored.data(as: EventData.EscalationStep.self) == step)
        #expect(stored.data(as: EventData.EscalationStarted.self) == nil)
        // The same shape under another type's name is not that type's data.
        var wrong = stored
        wrong.type = .checkInOverdue
        #expect(wrong.data(as: EventData.EscalationStep.self) == nil)
    }

    @Test(
        "hostile numbers and kinds are errors, never traps",
        arguments: [
            JSONValue.object(["attempt": .int(Int64.max), "previous_state": "active"]),
            ["attempt": .double(1.5), "previous_state": "active"],
            ["attempt": "1", "previous_state": "active"],
            ["attempt": 1, "previous_state": "no_such_state"],
            ["attempt": 1],
            .array([1]),
            .null,
        ])
    func hostile(_ data: JSONValue) {
        #if arch(x86_64) || arch(arm64)
            // Int is 64-bit here: Int64.max fits; a small integer type is what must refuse it.
            struct Small: Decodable { var v: Int8 }
            #expect(throws: DecodingError.self) {
                try JSONValueDecoder.decode(Small.self, from: ["v": 300])
            }
        #endif
        let ok = (try? JSONValueDecoder.decode(EventData.ResponderOK.self, from: data, snakeCaseKeys: true)) != nil
        #expect(ok == (data == ["attempt": .int(Int64.max), "previous_state": "active"]))
    }

    @Test("names and ids are their bare text on the wire and in storage; a map keyed by target name stays an object")
    func identifiersAsText() throws {
        let loops: [TargetName: LoopTimeouts] = ["ems-north": LoopTimeouts(accept: .seconds(60))]
        let text = String(decoding: try VigilJSON.encode(loops), as: UTF8.self)
        #expect(text == #"{"ems-north":{"accept":60000}}"#)
        #expect(try VigilJSON.decode([TargetName: LoopTimeouts].self, from: Array(text.utf8)) == loops)
        #expect(try VigilJSON.encode([WebhookID(rawValue: "msg_1")]) == Array(#"["msg_1"]"#.utf8))
        #expect(try JSONValueEncoder.encode(ActorName(rawValue: "dana")) == "dana")
        #expect(try JSONValueDecoder.decode(TargetName.self, from: "ems") == "ems")
    }
}
