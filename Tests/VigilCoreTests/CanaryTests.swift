import Synchronization
import Testing
import VigilCore
import VigilTestKit

/// Canaries: a synthetic session through the real timer, decision and outbox that sends `test.ping` and nothing
/// else (docs/contract.md, "Canaries").
@Suite("canaries: test.ping through the real path, and never anything else")
struct CanaryTests {
    static let targets: [TargetName] = [Harness.ems, Harness.sup]

    static func waitFor(_ f: () -> Bool) async {
        for _ in 0..<1000 where !f() { await Task.yield() }
    }

    @Test("a canary lapses one second after it starts and sends one test.ping per target, saying test: true")
    func pings() async throws {
        let h = Harness()
        let c = try await h.engine.startCanary(Self.targets)
        #expect(c.id.isCanary)
        #expect(c.caller.alias == "canary" && c.caller.callbackNumber == nil)
        #expect(c.due == h.time.now() + .seconds(1) && c.grace == .zero)
        try await h.advance(by: Millis(900))
        #expect(h.store.notifications.isEmpty)
        try await h.advance(by: Millis(100))
        let sent = h.store.notifications
        #expect(sent.map(\.type) == [.testPing, .testPing])
        #expect(sent.map(\.targets) == [[Harness.ems], [Harness.sup]])
        for item in sent {
            let body = try VigilJSON.decode(JSONValue.self, from: item.body)
            guard case .object(let o) = body, case .object(let data)? = o["data"] else {
                Issue.record("not an object")
                continue
            }
            #expect(data["test"] == .bool(true))
            #expect(data["location"] == nil && data["caller"] == nil, "no location, no caller")
        }
    }

    @Test("no dispatch.*, responder.* or person.* notification is ever made for a canary, whatever is asked of it")
    func nothingButPings() async throws {
        let h = Harness()
        let c = try await h.engine.startCanary(Self.targets)
        try await h.advance(by: .seconds(1))
        let asks: [Command] = [
            .dispatchNow(by: "op"), .smsHelp, .responderAnswer(index: 0, answer: .ems),
            .acknowledge(operator: "op", note: nil), .checkIn(source: .operator, note: nil),
            .update(SessionPatch(location: Location(address: "1 Main St")), by: "op"),
            .dispatchStatus(.accepted, reference: nil, by: Harness.ems), .smsText("help"),
            .massLapseRelease(by: "sup"),
        ]
        for ask in asks {
            await #expect(throws: VigilError.self, "\(ask) is refused") {
                try await h.engine.execute(c.id, ask)
            }
        }
        // Its pings fail for good, time passes far beyond any ladder, and it is ended.
        for item in h.store.notifications {
            try await h.engine.execute(
                c.id, .delivery(item, .targetFailed(targetIndex: 0, reason: "HTTP 500", attempts: 3)))
        }
        try await h.advance(by: .seconds(3600))
        try await h.engine.execute(c.id, .end(outcome: .other, by: "canary", note: nil))
        let types = Set(h.store.notifications.map(\.type))
        #expect(types == [.testPing], "only test.ping: \(types)")
        #expect(
            !h.store.notifications.contains {
                $0.type.rawValue.hasPrefix("dispatch.") || $0.type.rawValue.hasPrefix("responder.")
                    || $0.type.rawValue.hasPrefix("person.")
            })
    }

    @Test("canaries are never in listings, and their lapses never count for the mass lapse")
    func invisible() async throws {
        let h = Harness()
        let alarms = Mutex<[Int]>([])
        await h.engine.setMassLapse(MassLapseSettings(sessions: 2, within: .seconds(10))) { count, _ in
            alarms.withLock { $0.append(count) }
        }
        for _ in 0..<6 { _ = try await h.engine.startCanary(Self.targets) }
        _ = await h.engine.fire(h.time.advance(by: .seconds(1)))
        for _ in 0..<100 { await Task.yield() }
        #expect(alarms.withLock { $0 }.isEmpty)
        #expect(try await h.store.sessions(.all, limit: 100).isEmpty)
        #expect(try await h.store.sessions(.open, limit: 100).isEmpty)
        #expect(h.store.notifications.filter { $0.type == .testPing }.count == 12)
    }
}
