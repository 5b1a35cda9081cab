/// The data of one kind of event, as a type: what the state machine emits and what readers decode.
///
/// Each payload encodes with its property names in snake case (`lateMs` is `late_ms`); a key in `nullWhenAbsent`
/// is written as `null` when its value is absent (readers of the log and the API rely on it being there), every
/// other absent optional is left out. Events never carry the address, a phone number or notes.
public protocol EventPayload: Codable, Sendable {
    /// The event this is the data of.
    var eventType: EventType { get }
    /// Keys written as `null` when their value is absent.
    static var nullWhenAbsent: [String] { get }
}

extension EventPayload {
    public static var nullWhenAbsent: [String] { [] }

    /// The payload as the log stores it.
    public func json() -> JSONValue { .object(jsonObject()) }

    /// The payload's members: its keys in snake case, with `null` for the absent keys of `nullWhenAbsent`.
    public func jsonObject() -> [String: JSONValue] {
        do {
            guard case .object(var o) = try JSONValueEncoder.encode(self, snakeCaseKeys: true) else {
                return ["encoding_error": "the payload is not an object"]
            }
            for key in Self.nullWhenAbsent where o[key] == nil { o[key] = .null }
            return o
        } catch {
            // The payloads hold plain values and cannot fail to encode; were one to, the event is still logged.
            return ["encoding_error": .string(String(describing: error))]
        }
    }
}

extension NewEvent {
    /// An event with typed data.
    public init(_ payload: some EventPayload, at: Timestamp) {
        self.init(payload.eventType, at: at, payload.json())
    }
}

extension StoredEvent {
    /// The event's data as `type`; nil when it is another event's, or was written by an older version without a
    /// field the type requires.
    public func data<T: EventPayload>(as type: T.Type) -> T? {
        guard let v = try? JSONValueDecoder.decode(type, from: data, snakeCaseKeys: true), v.eventType == self.type
        else { return nil }
        return v
    }
}

/// The payloads, one per kind of event (some kinds have two shapes, each its own type).
public enum EventData {
    /// What a step of the ladder does, as `escalation.step` names it.
    public enum StepAction: String, Codable, Sendable {
        case notify
        case dispatch
        case contactResponders = "contact_responders"
        case contactPerson = "contact_person"
        case ping
    }

    // MARK: Sessions and check-ins

    /// `session.started`.
    public struct SessionStarted: EventPayload, Equatable {
        public var eventType: EventType { .sessionStarted }
        public var checkInIntervalS: Int64
        public var graceS: Int64
        public var policy: String
        public var nextCheckInDueAt: Timestamp
        public var responders: Int
    }

    /// `session.updated`: which fields changed, and who changed them.
    public struct SessionUpdated: EventPayload, Equatable {
        public var eventType: EventType { .sessionUpdated }
        public var fields: [String]
        public var by: ActorName
        public var nextCheckInDueAt: Timestamp
    }

    /// `session.ended`.
    public struct SessionEnded: EventPayload, Equatable {
        public var eventType: EventType { .sessionEnded }
        public static let nullWhenAbsent = ["note"]
        public var outcome: Outcome
        public var by: ActorName
        public var note: String?
    }

    /// `check_in.received` (with no next due time while a dispatch stands).
    public struct CheckInReceived: EventPayload, Equatable {
        public var eventType: EventType { .checkInReceived }
        public static let nullWhenAbsent = ["note"]
        public var source: CheckInSource
        public var note: String?
        public var previousState: SessionState
        public var nextCheckInDueAt: Timestamp?
    }

    /// `check_in.overdue`.
    public struct CheckInOverdue: EventPayload, Equatable {
        public var eventType: EventType { .checkInOverdue }
        public var dueAt: Timestamp
        public var lateMs: Millis
    }

    // MARK: Escalation

    /// `escalation.started`: the grace ran out.
    public struct EscalationStarted: EventPayload, Equatable {
        public var eventType: EventType { .escalationStarted }
        public var missedCheckInDueAt: Timestamp
        public var scheduledAt: Timestamp
        public var lateMs: Millis
        public var steps: Int
    }

    /// `escalation.step`: a rung fired (or was skipped, naming why).
    public struct EscalationStep: EventPayload, Equatable {
        public var eventType: EventType { .escalationStep }
        public var step: Int
        public var action: StepAction
        public var targets: [TargetName]?
        public var responders: Int?
        public var skipped: String?
        public var scheduledAt: Timestamp
        public var lateMs: Millis
        public var webhookIDs: [WebhookID]?
    }

    /// `escalation.acknowledged` (no pause once dispatched).
    public struct EscalationAcknowledged: EventPayload, Equatable {
        public var eventType: EventType { .escalationAcknowledged }
        public static let nullWhenAbsent = ["note", "paused_until"]
        public var `operator`: ActorName
        public var note: String?
        public var pausedUntil: Timestamp?
    }

    /// `escalation.resumed`: a pause ended, or (`repeat`) the alarm of an acknowledged ladder with no step left
    /// sounded again.
    public struct EscalationResumed: EventPayload, Equatable {
        public var eventType: EventType { .escalationResumed }
        public static let nullWhenAbsent = ["next_alarm_at"]
        public var `repeat`: Bool?
        public var pausedUntil: Timestamp?
        public var scheduledAt: Timestamp?
        public var lateMs: Millis
        public var stepsLeft: Int
        public var nextAlarmAt: Timestamp?
    }

    /// `escalation.resolved`: the person answered.
    public struct EscalationResolved: EventPayload, Equatable {
        public var eventType: EventType { .escalationResolved }
        public static let nullWhenAbsent = ["last_step"]
        public var source: CheckInSource
        public var notifiedTargets: [TargetName]
        public var lastStep: Int?
    }

    // MARK: Mass lapse and texts

    /// `mass_lapse.held`: this session's dispatch steps wait.
    public struct MassLapseHeld: EventPayload, Equatable {
        public var eventType: EventType { .massLapseHeld }
        public var holdUntil: Timestamp
        public var count: Int
    }

    /// `mass_lapse.released`.
    public struct MassLapseReleased: EventPayload, Equatable {
        public var eventType: EventType { .massLapseReleased }
        public var by: ActorName
        public var holdUntil: Timestamp
    }

    /// `sms.help`: whether it dispatched, and why not.
    public struct SMSHelp: EventPayload, Equatable {
        public var eventType: EventType { .smsHelp }
        public var dispatched: Bool
        public var reason: String?
    }

    /// `sms.received`: a text that was neither `OK` nor `HELP`.
    public struct SMSReceived: EventPayload, Equatable {
        public var eventType: EventType { .smsReceived }
        public var text: String
    }

    /// `sms.unknown_help`: a help word from a number that matches no open session; `from` is masked to its last
    /// four digits (`***4567`).
    public struct SMSUnknownHelp: EventPayload, Equatable {
        public var eventType: EventType { .smsUnknownHelp }
        public var from: String
        public var reason: String
        public init(from: String, reason: String) {
            self.from = from
            self.reason = reason
        }
    }

    // MARK: System

    /// `system.alarm`.
    public struct SystemAlarm: EventPayload, Equatable {
        public var eventType: EventType { .systemAlarm }
        public var raised: Bool
        public var reason: String
        public init(raised: Bool, reason: String) {
            self.raised = raised
            self.reason = reason
        }
    }

    /// `system.unattended`.
    public struct SystemUnattended: EventPayload, Equatable {
        public var eventType: EventType { .systemUnattended }
        public var raised: Bool
        public var reason: String
        public var openSessions: Int
        public var unattendedS: Int64?
        public init(raised: Bool, reason: String, openSessions: Int, unattendedS: Int64?) {
            self.raised = raised
            self.reason = reason
            self.openSessions = openSessions
            self.unattendedS = unattendedS
        }
    }

    /// `system.mass_lapse`.
    public struct SystemMassLapse: EventPayload, Equatable {
        public var eventType: EventType { .systemMassLapse }
        public var count: Int
        public var withinS: Int64
        public var threshold: Int
        public var reason: String
        public init(count: Int, withinS: Int64, threshold: Int, reason: String) {
            self.count = count
            self.withinS = withinS
            self.threshold = threshold
            self.reason = reason
        }
    }

    /// `location.viewed`: who revealed a location before the session was in alarm.
    public struct LocationViewed: EventPayload, Equatable {
        public var eventType: EventType { .locationViewed }
        public var by: ActorName
        public var role: String
        public var state: SessionState
        public init(by: ActorName, role: String, state: SessionState) {
            self.by = by
            self.role = role
            self.state = state
        }
    }

    /// `link.viewed`: who asked for the person's check-in link after the session started.
    public struct LinkViewed: EventPayload, Equatable {
        public var eventType: EventType { .linkViewed }
        public var by: ActorName
        public var role: String
        public var state: SessionState
        public init(by: ActorName, role: String, state: SessionState) {
            self.by = by
            self.role = role
            self.state = state
        }
    }
}
