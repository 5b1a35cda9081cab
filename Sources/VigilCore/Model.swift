/// Who is being watched: an alias and a number to call back. Confidential.
public struct Caller: Hashable, Sendable, Codable {
    /// A first name or nickname the person chose.
    public var alias: String?
    /// A phone number for a call back.
    public var callbackNumber: String?

    /// Creates caller details.
    public init(alias: String? = nil, callbackNumber: String? = nil) {
        self.alias = alias
        self.callbackNumber = callbackNumber
    }

    enum CodingKeys: String, CodingKey {
        case alias
        case callbackNumber = "callback_number"
    }
}

/// Where the person is and how to get in. Confidential.
public struct Location: Hashable, Sendable, Codable {
    /// Street address; the only required part.
    public var address: String
    /// Apartment, unit or room.
    public var unit: String?
    /// City.
    public var city: String?
    /// State, province or region.
    public var region: String?
    /// Postal code.
    public var postalCode: String?
    /// ISO country code.
    public var country: String?
    /// WGS 84 latitude.
    public var latitude: Double?
    /// WGS 84 longitude.
    public var longitude: Double?
    /// How to get in: door codes, which entrance.
    public var accessNotes: String?
    /// How far, in metres, the coordinates may be from the person; nil when nobody measured it.
    public var accuracyM: Double?

    /// Creates a location.
    public init(
        address: String, unit: String? = nil, city: String? = nil, region: String? = nil,
        postalCode: String? = nil, country: String? = nil, latitude: Double? = nil, longitude: Double? = nil,
        accessNotes: String? = nil, accuracyM: Double? = nil
    ) {
        self.accuracyM = accuracyM
        self.address = address
        self.unit = unit
        self.city = city
        self.region = region
        self.postalCode = postalCode
        self.country = country
        self.latitude = latitude
        self.longitude = longitude
        self.accessNotes = accessNotes
    }

    enum CodingKeys: String, CodingKey {
        case address, unit, city, region, country, latitude, longitude
        case postalCode = "postal_code"
        case accessNotes = "access_notes"
        case accuracyM = "accuracy_m"
    }

    /// A one-line rendering for dispatchers: address, unit, city, region, postal code.
    public var oneLine: String {
        [address, unit.map { "unit \($0)" }, city, region, postalCode, country].compactMap { $0 }.filter {
            !$0.isEmpty
        }.joined(separator: ", ")
    }
}

/// A session's lifecycle state.
public enum SessionState: String, Hashable, Sendable, Codable, CaseIterable {
    /// Waiting for the next check-in.
    case active
    /// The check-in is late, inside its grace.
    case overdue
    /// The escalation ladder is running.
    case escalating
    /// A dispatch target accepted the request.
    case dispatched
    /// Closed with an outcome.
    case ended

    /// Whether the session is still open.
    public var isOpen: Bool { self != .ended }
}

/// How a session ended.
public enum Outcome: String, Hashable, Sendable, Codable, CaseIterable {
    case safe
    case emsAttended = "ems_attended"
    case falseAlarm = "false_alarm"
    case callerLeft = "caller_left"
    case other
}

/// Where a check-in came from.
public enum CheckInSource: String, Hashable, Sendable, Codable, CaseIterable {
    case `operator`
    case caller
    case device
    /// Older logs only: the `integration` role was split into `device` and `dispatch`.
    case integration
    case responder
    case sms
}

/// Who caused a command: the token's name and role, or the channel (`caller`, `responder`, `sms`). Recorded on every
/// event the command makes; never taken from a request body.
public struct Actor: Hashable, Sendable {
    /// The token's name, or the channel's.
    public var name: ActorName
    /// The token's role, or the channel.
    public var role: String

    /// Creates an actor.
    public init(name: ActorName, role: String) {
        self.name = name
        self.role = role
    }
}

/// What a dispatch partner reports after accepting.
public enum DispatchStatus: String, Hashable, Sendable, Codable, CaseIterable {
    case accepted
    case rejected
    case enRoute = "en_route"
    case onScene = "on_scene"
    case closed
}

/// One rung of the escalation ladder.
public struct Step: Hashable, Sendable, Codable {
    /// What a step does.
    public enum Action: Hashable, Sendable, Codable {
        /// Notify every named target (each gets its own notification).
        case notify([TargetName])
        /// Dispatch through the named targets, in failover order.
        case dispatch([TargetName])
        /// Contact the session's responders one at a time through the gateway `via`, each with `answer` to answer.
        case contactResponders(via: TargetName, answer: Millis)
        /// Prompt the person by text through the gateway `via` (`person.prompted`).
        case contactPerson(via: TargetName)
        /// Send `test.ping` to every named target (a canary's one step; never in a configured policy).
        case ping([TargetName])
    }

    /// Delay from the end of the grace period.
    public var after: Millis
    /// What the step does.
    public var action: Action

    /// Creates a step.
    public init(after: Millis, action: Action) {
        self.after = after
        self.action = action
    }

    /// Whether this step dispatches.
    public var isDispatch: Bool {
        if case .dispatch = action { return true }
        return false
    }

    /// The targets this step names.
    public var targets: [TargetName] {
        switch action {
        case .notify(let t), .dispatch(let t): return t
        case .contactResponders(let via, _): return [via]
        case .contactPerson(let via): return [via]
        case .ping(let t): return t
        }
    }
}

/// `remind: {before_s, via}`: a text to the person `before` every due time, through the gateway `via`.
public struct Reminder: Hashable, Sendable, Codable {
    /// How long before the due time.
    public var before: Millis
    /// The gateway target.
    public var via: TargetName

    /// Creates a reminder setting.
    public init(before: Millis, via: TargetName) {
        self.before = before
        self.via = via
    }
}

/// An escalation policy: a ladder of steps and what to do when delivery fails.
public struct Policy: Hashable, Sendable, Codable {
    /// The policy's name in configuration.
    public var name: String
    /// How long an acknowledgement pauses automatic steps.
    public var ackTimeout: Millis
    /// The ladder, in order of `after`.
    public var steps: [Step]
    /// Targets told with `delivery.failed` when no target accepted a notification.
    public var onDeliveryFailure: [TargetName]
    /// How long a responder's *I'm going* pauses the ladder (nil: 300 s).
    public var goingPause: Millis?
    /// The text sent to responders (nil: `ResponderMessage.defaultTemplate`).
    public var responderMessage: String?
    /// The base of absolute responder links (`public_url`).
    public var linkBase: String?
    /// How long a session caught in a mass lapse holds its dispatch steps (nil or zero: never hold).
    public var holdDispatchOnMassLapse: Millis?
    /// Closed-loop timeouts of the dispatch targets that set them.
    public var loops: [TargetName: LoopTimeouts]?
    /// How long after a dispatch (or an `ems_attended` end) a follow-up falls due; nil is 24 h.
    public var followUpAfter: Millis?
    /// Texts the person `person.reminder` before every due time (nil: no reminders).
    public var remind: Reminder?

    /// Creates a policy; steps are kept in order of their delay.
    public init(name: String, ackTimeout: Millis, steps: [Step], onDeliveryFailure: [TargetName] = []) {
        self.name = name
        self.ackTimeout = ackTimeout
        self.steps = steps.enumerated().sorted { ($0.element.after, $0.offset) < ($1.element.after, $1.offset) }.map {
            $0.element
        }
        self.onDeliveryFailure = onDeliveryFailure
    }

    /// The index of the first dispatch step, if any.
    public var firstDispatchStep: Int? { steps.firstIndex { $0.isDispatch } }

    /// The built-in policy: the console is alerted, no webhook is sent.
    public static let consoleOnly = Policy(name: "default", ackTimeout: .seconds(120), steps: [])
}
