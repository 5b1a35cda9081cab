import Foundation
import Synchronization
import Testing
import VigilCore
import VigilDelivery

/// One escalation run through the real state machine on a fixed clock, and what each format makes of its messages.
///
/// The bodies are compared byte for byte with the files under `Tests/golden/dispatch/`; run with
/// `VIGIL_UPDATE_GOLDEN=1` to rewrite them after an intended change, and read the diff.
struct DispatchStory {
    /// 2026-11-22T10:20:00Z: 04:20 in Chicago (CST).
    static let t0 = Timestamp(millis: 1_795_342_800_000)

    static let hotline = Hotline(
        organization: "Example Overdose Response Line", sender: "dispatch@example.org", agencyID: "example.org",
        callbackNumber: "+18005550100", timeZone: "America/Chicago")

    static let policy = Policy(
        name: "default", ackTimeout: .seconds(30),
        steps: [
            Step(after: .zero, action: .notify(["supervisors"])),
            Step(after: .seconds(120), action: .dispatch(["ems-primary", "ems-backup"])),
        ])

    static let full = StartRequest(
        caller: Caller(alias: "J", callbackNumber: "+15551234567"),
        location: Location(
            address: "123 Main St", unit: "4B", city: "Springfield", region: "IL", postalCode: "62701", country: "US",
            latitude: 39.7817, longitude: -89.6501, accessNotes: "side door, code 1234", accuracyM: 25),
        interval: .seconds(360), grace: .seconds(30), policy: "default", notes: "has naloxone on the table",
        substance: "fentanyl")

    static let minimal = StartRequest(
        caller: Caller(), location: Location(address: "1 Test Rd"), interval: .seconds(120), grace: .zero,
        policy: "default", notes: nil)

    /// Deterministic ids: a counter stretched into bytes.
    static func ids() -> IDGenerator {
        let counter = Mutex<UInt64>(0)
        return IDGenerator { n in
            counter.withLock { c in
                c += 1
                var x = c &* 0x9E37_79B9_7F4A_7C15
                return (0..<n).map { _ in
                    x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return UInt8(truncatingIfNeeded: x >> 33)
                }
            }
        }
    }

    var session: Session
    var now: Timestamp
    var outbox: [OutboxItem] = []
    let ids = DispatchStory.ids()

    init(_ request: StartRequest) {
        now = Self.t0
        session =
            SessionMachine.start(
                request, policy: Self.policy, id: SessionID(rawValue: "ses_golden0000000000000000000"),
                token: "token", at: now
            ).session
    }

    mutating func run(_ command: Command, at t: Timestamp) throws {
        now = t
        let d = try SessionMachine.decide(
            session, command, at: now, ids: ids, actor: Actor(name: "dana", role: "operator"))
        session = d.session
        outbox += d.outbox
    }

    func last(_ type: EventType) throws -> OutboxItem { try #require(outbox.last { $0.type == type }) }

    /// Misses the check-in, notifies supervisors, is acknowledged (when `acknowledge`), dispatches, and is delivered
    /// by the second target of the failover list.
    mutating func dispatch(acknowledge: Bool) throws {
        let due = session.due
        try run(.deadline, at: due)
        try run(.deadline, at: due + session.grace)
        if acknowledge { try run(.acknowledge(operator: "dana", note: nil), at: due + session.grace + .seconds(20)) }
        try run(.deadline, at: due + session.grace + .seconds(120))
        let request = try last(.dispatchRequested)
        try run(
            .delivery(request, .targetFailed(targetIndex: 0, reason: "HTTP 503", attempts: 5)),
            at: now + .seconds(30))
        try run(.delivery(request, .delivered(targetIndex: 1, status: 200, attempts: 1)), at: now + .seconds(1))
    }

    static func render(_ item: OutboxItem, _ format: PayloadFormat, hotline: Hotline = hotline) throws -> String {
        let target = Target(
            name: "ems-backup", url: "https://ems.example.net/", format: format,
            signer: WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!)
        let index = item.targets.firstIndex(of: target.name) ?? 0
        return String(
            decoding: try OutboxWorker.render(
                item.body, type: item.type, for: target, identifier: item.webhookIDs[index], hotline: hotline),
            as: UTF8.self)
    }
}

/// Compares `text` with the golden file `name`, or writes it when asked to.
func expectGolden(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("golden/dispatch")
    let url = dir.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["VIGIL_UPDATE_GOLDEN"] == "1" {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return
    }
    let golden = try String(contentsOf: url, encoding: .utf8)
    #expect(text == golden, "\(name) differs from its golden file", sourceLocation: sourceLocation)
}

@Suite("what a dispatcher receives: golden bodies")
struct DispatchGoldenTests {
    @Test("a session with every field: requested, updated and cancelled, in JSON, CAP and EIDO")
    func fullSession() throws {
        var story = DispatchStory(DispatchStory.full)
        try story.dispatch(acknowledge: true)
        let requested = try story.last(.dispatchRequested)
        var moved = story.session.location
        moved.unit = "5C"
        moved.accessNotes = "back door, code 9876"
        try story.run(.update(SessionPatch(location: moved), by: "dana"), at: story.now + .seconds(60))
        let updated = try story.last(.dispatchUpdated)
        try story.run(.checkIn(source: .caller, note: nil), at: story.now + .seconds(60))
        let cancelled = try story.last(.dispatchCancelled)
        for (item, name) in [(requested, "full-requested"), (updated, "full-updated"), (cancelled, "full-cancelled")] {
            try expectGolden(DispatchStory.render(item, .json), name + ".json")
            try expectGolden(DispatchStory.render(item, .cap), name + ".cap.xml")
            try expectGolden(DispatchStory.render(item, .eido), name + ".eido.json")
        }
    }

    @Test("a session with only the required fields and no hotline configured, in JSON, CAP and EIDO")
    func minimalSession() throws {
        var story = DispatchStory(DispatchStory.minimal)
        try story.dispatch(acknowledge: false)
        let requested = try story.last(.dispatchRequested)
        try expectGolden(DispatchStory.render(requested, .json, hotline: Hotline()), "minimal-requested.json")
        try expectGolden(DispatchStory.render(requested, .cap, hotline: Hotline()), "minimal-requested.cap.xml")
        try expectGolden(DispatchStory.render(requested, .eido, hotline: Hotline()), "minimal-requested.eido.json")
    }

    @Test("the three formats carry the same summary line")
    func sameSummary() throws {
        var story = DispatchStory(DispatchStory.full)
        try story.dispatch(acknowledge: true)
        let item = try story.last(.dispatchRequested)
        let json = try VigilJSON.decode(JSONValue.self, from: Array(DispatchStory.render(item, .json).utf8))
        let summary = try #require(json["data"]?["summary"]?.stringValue)
        #expect(summary.contains("stopped answering at 04:26 CST"))
        let cap = try DispatchStory.render(item, .cap)
        #expect(cap.contains("<description>" + summary))
        let eido = try VigilJSON.decode(JSONValue.self, from: Array(DispatchStory.render(item, .eido).utf8))
        guard case .array(let notes) = eido["notesComponent"] ?? .null else {
            Issue.record("no notesComponent")
            return
        }
        #expect(notes.first?["notesActionComments"]?.stringValue == summary)
    }

    @Test("internal fields stay out of the JSON body: notes, the engine's facts and bookkeeping")
    func internalFieldsOut() throws {
        var story = DispatchStory(DispatchStory.full)
        try story.dispatch(acknowledge: true)
        let text = try DispatchStory.render(try story.last(.dispatchRequested), .json)
        for word in ["naloxone", "dispatch_facts", "\"version\"", "delivery_failures", "references_sent"] {
            #expect(!text.contains(word), "\(word) leaked")
        }
    }

    @Test("the escalation in a dispatch body never carries paused_until, even one sent during an acknowledge's pause")
    func noPausedUntil() throws {
        var story = DispatchStory(DispatchStory.full)
        let due = story.session.due
        try story.run(.deadline, at: due)
        try story.run(.deadline, at: due + story.session.grace)
        try story.run(.acknowledge(operator: "dana", note: nil), at: due + story.session.grace + .seconds(5))
        #expect(story.session.escalation?.pausedUntil != nil, "the story dispatches inside the pause")
        try story.run(.dispatchNow(by: "dana"), at: story.now + .seconds(5))
        let body = try VigilJSON.decode(
            JSONValue.self, from: Array(try DispatchStory.render(try story.last(.dispatchRequested), .json).utf8))
        let escalation = try #require(body["data"]?["session"]?["escalation"])
        #expect(escalation["paused_until"] == nil)
        #expect(escalation["acknowledged_by"]?.stringValue == "dana", "the rest of the escalation stays")
    }

    // A twilio target never dispatches (config check refuses it): it is not a dispatch format.
    @Test(
        "a target's fields: reach every part of every format",
        arguments: PayloadFormat.allCases.filter { $0 != .twilio })
    func fieldsApplyEverywhere(format: PayloadFormat) throws {
        var story = DispatchStory(DispatchStory.full)
        try story.dispatch(acknowledge: true)
        let item = try story.last(.dispatchRequested)
        let target = Target(
            name: "ems-backup", url: "https://ems.example.net/", format: format,
            signer: WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!, fields: [.location])
        let text = String(
            decoding: try OutboxWorker.render(
                item.body, type: item.type, for: target, identifier: "msg_x", hotline: DispatchStory.hotline),
            as: UTF8.self)
        #expect(text.contains("123 Main St"))
        for secret in ["+15551234567", "side door", "fentanyl", "naloxone", "\"J\"", ">J<", "J stopped"] {
            #expect(!text.contains(secret), "\(secret) reached a target configured without it")
        }
    }

    @Test("CAP: a circle only with a measured accuracy, in kilometres; coordinates as a parameter otherwise")
    func circle() throws {
        var measured = DispatchStory(DispatchStory.full)
        try measured.dispatch(acknowledge: false)
        let withAccuracy = try DispatchStory.render(try measured.last(.dispatchRequested), .cap)
        #expect(withAccuracy.contains("<circle>39.7817,-89.6501 0.025</circle>"))
        #expect(!withAccuracy.contains("<valueName>coordinates</valueName>"))
        var request = DispatchStory.full
        request.location.accuracyM = nil
        var unmeasured = DispatchStory(request)
        try unmeasured.dispatch(acknowledge: false)
        let without = try DispatchStory.render(try unmeasured.last(.dispatchRequested), .cap)
        #expect(!without.contains("<circle>"))
        #expect(without.contains("<parameter><valueName>coordinates</valueName><value>39.7817,-89.6501</value>"))
    }
}
