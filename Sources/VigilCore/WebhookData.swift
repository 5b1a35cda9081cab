/// What a notification says beyond the session: the parts of a webhook's `data` that differ by message.
///
/// Encoded in snake case (`escalationStep` is `escalation_step`); absent parts are left out.
public struct WebhookDetails: Codable, Sendable, Equatable {
    /// Why the message was sent, in words.
    public var reason: String?
    /// The ladder step (1-based) that sent it.
    public var escalationStep: Int?
    /// Who asked for the dispatch: `ladder`, an operator, `responder`, `sms`.
    public var requestedBy: ActorName?
    /// The target a dispatch moved on from.
    public var failoverFrom: TargetName?
    /// A cancel sent because the dispatch moved to the next centre.
    public var failover: Bool?
    /// For `delivery.failed`: the type of the notification nobody took.
    public var failedType: EventType?
    /// For `delivery.failed`: the targets that refused it.
    public var failedTargets: [TargetName]?

    /// Creates details.
    public init(
        reason: String? = nil, escalationStep: Int? = nil, requestedBy: ActorName? = nil,
        failoverFrom: TargetName? = nil, failover: Bool? = nil, failedType: EventType? = nil,
        failedTargets: [TargetName]? = nil
    ) {
        self.reason = reason
        self.escalationStep = escalationStep
        self.requestedBy = requestedBy
        self.failoverFrom = failoverFrom
        self.failover = failover
        self.failedType = failedType
        self.failedTargets = failedTargets
    }
}

/// The `data` of a notification about a session: the details, the whole session (cut down per target at send
/// time), its place in the escalation and, on dispatch messages, the facts the brief is made from.
public struct WebhookData: Encodable, Sendable {
    /// What differs by message.
    public var details: WebhookDetails
    /// The session as the API shows it.
    public var session: SessionView
    /// The session's notification count: orders messages of one session.
    public var sequence: Int
    /// Earlier webhook ids of the escalation.
    public var references: [WebhookID]
    /// The check-in that was missed, during an escalation.
    public var missedCheckInDueAt: Timestamp?
    /// Kept inside the stored envelope and turned into `data.dispatch` and `data.summary` for each target.
    public var dispatchFacts: DispatchFacts?

    enum CodingKeys: String, CodingKey {
        case session, sequence, references
        case missedCheckInDueAt = "missed_check_in_due_at"
        case dispatchFacts = "dispatch_facts"
    }

    public func encode(to encoder: any Encoder) throws {
        try details.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(session, forKey: .session)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(references, forKey: .references)
        try c.encodeIfPresent(missedCheckInDueAt, forKey: .missedCheckInDueAt)
        try c.encodeIfPresent(dispatchFacts, forKey: .dispatchFacts)
    }

    /// The `data` object, keys in snake case.
    public func json() throws -> JSONValue { try JSONValueEncoder.encode(self, snakeCaseKeys: true) }
}

/// The `data` of a message to a responder gateway (`responder.requested`, `responder.cancelled`): the responder,
/// the text to send, and only the session's id, state and the caller's alias.
public struct ResponderWebhookData: Encodable, Sendable {
    /// The session part: no more than the gateway needs.
    public struct SessionPart: Encodable, Sendable {
        public var id: SessionID
        public var state: SessionState
        public var caller: Caller
    }

    public var responder: Responder
    public var attempt: Int
    public var message: String
    /// Where to go (`responder.requested` only).
    public var location: Location?
    /// The responder's own answer page (`responder.requested` only).
    public var responderURL: String?
    /// How long they have to answer, in seconds (`responder.requested` only).
    public var answerS: Int64?
    /// Why they are no longer needed (`responder.cancelled` only).
    public var reason: String?
    public var session: SessionPart
    public var sequence: Int
    /// The template `message` was made from (`responder.requested` only): kept in the stored envelope so that the
    /// message is made again for each target's `fields:` at send time, and never sent.
    public var messageTemplate: String?
    /// The session's language when it is not English (`responder.requested` only), so the text made again at send
    /// time speaks it too.
    public var language: Language?

    /// The `data` object, keys in snake case.
    public func json() throws -> JSONValue { try JSONValueEncoder.encode(self, snakeCaseKeys: true) }
}

/// A stored webhook envelope read back at send time: the parts the renderers use, typed. Every part is optional,
/// since a target's `fields:` may have cut the session down (a location with only its access notes, no caller),
/// and each is read on its own: a part that cannot be read is absent, and the rest still renders.
public struct StoredEnvelope: Decodable, Sendable {
    /// The location as far as it survived the target's fields; numbers keep the form they were written in.
    public struct Place: Decodable, Sendable {
        public var address: String?
        public var unit: String?
        public var city: String?
        public var region: String?
        public var postalCode: String?
        public var country: String?
        public var latitude: JSONValue?
        public var longitude: JSONValue?
        public var accuracyM: JSONValue?
        public var accessNotes: String?

        enum CodingKeys: String, CodingKey {
            case address, unit, city, region, country, latitude, longitude
            case postalCode = "postal_code"
            case accuracyM = "accuracy_m"
            case accessNotes = "access_notes"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            address = c.lenient(String.self, .address)
            unit = c.lenient(String.self, .unit)
            city = c.lenient(String.self, .city)
            region = c.lenient(String.self, .region)
            postalCode = c.lenient(String.self, .postalCode)
            country = c.lenient(String.self, .country)
            latitude = c.lenient(JSONValue.self, .latitude)
            longitude = c.lenient(JSONValue.self, .longitude)
            accuracyM = c.lenient(JSONValue.self, .accuracyM)
            accessNotes = c.lenient(String.self, .accessNotes)
        }

        /// The whole location, when it has its address (the only part a location must have).
        public var location: Location? {
            guard let address else { return nil }
            return Location(
                address: address, unit: unit, city: city, region: region, postalCode: postalCode, country: country,
                latitude: latitude?.doubleValue, longitude: longitude?.doubleValue, accessNotes: accessNotes,
                accuracyM: accuracyM?.doubleValue)
        }
    }

    /// The caller, as far as the target receives them.
    public struct Person: Decodable, Sendable {
        public var alias: String?
        public var callbackNumber: String?

        enum CodingKeys: String, CodingKey {
            case alias
            case callbackNumber = "callback_number"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            alias = c.lenient(String.self, .alias)
            callbackNumber = c.lenient(String.self, .callbackNumber)
        }
    }

    /// The session part.
    public struct SessionPart: Decodable, Sendable {
        public var id: String?
        public var caller: Person?
        public var location: Place?
        public var substance: String?

        enum CodingKeys: String, CodingKey { case id, caller, location, substance }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = c.lenient(String.self, .id)
            caller = c.lenient(Person.self, .caller)
            location = c.lenient(Place.self, .location)
            substance = c.lenient(String.self, .substance)
        }
    }

    /// The `data` part.
    public struct DataPart: Decodable, Sendable {
        public var session: SessionPart?
        public var dispatchFacts: DispatchFacts?
        public var references: [WebhookID]?
        public var reason: String?
        /// What a `test.ping` says.
        public var message: String?

        enum CodingKeys: String, CodingKey {
            case session, references, reason, message
            case dispatchFacts = "dispatch_facts"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            session = c.lenient(SessionPart.self, .session)
            dispatchFacts = c.lenient(DispatchFacts.self, .dispatchFacts)
            references = c.lenient([WebhookID].self, .references)
            reason = c.lenient(String.self, .reason)
            message = c.lenient(String.self, .message)
        }
    }

    /// The webhook type, as written (a type this version does not know still renders; `unknown` when missing).
    public var type: String
    /// When the message was made.
    public var timestamp: Timestamp?
    /// The payload.
    public var data: DataPart?

    enum CodingKeys: String, CodingKey { case type, timestamp, data }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = c.lenient(String.self, .type) ?? "unknown"
        timestamp = c.lenient(Timestamp.self, .timestamp)
        data = c.lenient(DataPart.self, .data)
    }

    /// Reads an envelope; nil when it is not an object.
    public static func read(_ envelope: JSONValue) -> StoredEnvelope? {
        try? JSONValueDecoder.decode(StoredEnvelope.self, from: envelope)
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or nil when it is absent, null or not a `T`.
    func lenient<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
        (try? decodeIfPresent(type, forKey: key)) ?? nil
    }
}
