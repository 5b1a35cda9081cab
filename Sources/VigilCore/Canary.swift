/// Canaries: a synthetic session that lapses on purpose, through the real timer, decision, outbox and delivery, and
/// sends `test.ping` to each named target, so that a broken path to a partner is found on a schedule, not at the
/// next emergency (docs/contract.md, "Canaries").
///
/// A canary has no caller (its alias is `canary`), no location, a 1 s interval, no grace and a fixed policy of one
/// step that only pings. Its id starts `cny_`, which no API path accepts: it is never on the board, in history,
/// in reports or in mass-lapse counts, and no operator command reaches it.
public enum Canary {
    /// The prefix of a canary session's id.
    public static let idPrefix = "cny_"
    /// The alias a canary carries.
    public static let alias = "canary"
    /// The built-in policy's name.
    public static let policyName = "canary"

    /// The fixed policy: one step, at the lapse, that sends `test.ping` to `targets` and nothing else.
    public static func policy(_ targets: [TargetName]) -> Policy {
        Policy(name: policyName, ackTimeout: .seconds(60), steps: [Step(after: .zero, action: .ping(targets))])
    }

    /// What a canary session starts from.
    public static let request = StartRequest(
        caller: Caller(alias: alias), location: Location(address: ""), interval: .seconds(1), grace: .zero,
        policy: policyName, notes: nil)
}

extension Canary {
    /// Refuses every command on a canary but its own deadlines, its deliveries' results and its end: no operator,
    /// text, responder or partner can make it dispatch, contact anyone or change.
    static func admits(_ id: SessionID, _ command: Command) throws {
        guard id.isCanary else { return }
        switch command {
        case .deadline, .delivery, .end: return
        default: throw VigilError.sessionNotFound
        }
    }
}

extension SessionID {
    /// Whether this is a canary's session.
    public var isCanary: Bool { rawValue.hasPrefix(Canary.idPrefix) }
}

extension Builder {
    /// A canary's one step: one `test.ping` notification per target (each retried and failed on its own), its body
    /// saying `"test": true` and naming no one.
    mutating func ping(_ targets: [TargetName], step: Int, scheduledAt t: Timestamp, late: Millis) throws {
        var webhookIDs: [WebhookID] = []
        for target in targets {
            let id = ids.notificationID()
            let webhookID = ids.webhookID()
            let data: JSONValue = .object([
                "test": true, "target": .string(target.rawValue), "message": "canary test notification from Vigil",
                "session": .object(["id": .string(s.id.rawValue), "alias": .string(Canary.alias)]),
                "deadline": .time(t),
            ])
            let body = try VigilJSON.encode(WebhookEnvelope(type: .testPing, timestamp: now, data: data))
            outbox.append(
                OutboxItem(
                    id: id, sessionID: s.id, type: .testPing, targets: [target], webhookIDs: [webhookID], body: body,
                    createdAt: now, isDispatch: false))
            s.escalation?.notifications.append(id)
            webhookIDs.append(webhookID)
        }
        emit(
            EventData.EscalationStep(
                step: step, action: .ping, targets: targets, scheduledAt: t, lateMs: late, webhookIDs: webhookIDs))
    }
}

extension SessionEngine {
    /// Starts a canary round that pings `targets`; its deadline falls 1 s from now.
    public func startCanary(_ targets: [TargetName]) async throws -> Session {
        let id = SessionID(rawValue: Canary.idPrefix + String(ids.sessionID().rawValue.dropFirst(4)))
        let d = SessionMachine.start(
            Canary.request, policy: Canary.policy(targets), id: id, token: ids.checkInToken(),
            at: clock.now())
        await acquire(id)
        defer { release(id) }
        return try await commitNew(d.session, d.events)
    }
}

extension EventData {
    /// `canary.passed`: a round's `test.ping` to `target` answered 2xx `latency_ms` after the canary's deadline.
    public struct CanaryPassed: EventPayload, Equatable {
        public var eventType: EventType { .canaryPassed }
        public var target: TargetName
        public var latencyMs: Int64
        public var round: String
        public init(target: TargetName, latencyMs: Int64, round: SessionID) {
            self.target = target
            self.latencyMs = latencyMs
            self.round = round.rawValue
        }
    }

    /// `canary.failed`: no 2xx from `target` within the canary's `timeout_s` (`reason` says why).
    public struct CanaryFailed: EventPayload, Equatable {
        public var eventType: EventType { .canaryFailed }
        public var target: TargetName
        public var reason: String
        public var round: String
        public init(target: TargetName, reason: String, round: SessionID) {
            self.target = target
            self.reason = reason
            self.round = round.rawValue
        }
    }
}
