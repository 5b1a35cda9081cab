/// What an operator fills in to start a session.
public struct StartRequest: Hashable, Sendable {
    /// Who.
    public var caller: Caller
    /// Where.
    public var location: Location
    /// Time between check-ins.
    public var interval: Millis
    /// Grace after a missed check-in.
    public var grace: Millis
    /// Name of the policy.
    public var policy: String
    /// Operator notes.
    public var notes: String?
    /// What the person said they are using: dispatch targets receive it, it changes what responders bring.
    public var substance: String?
    /// The `device` token that may check this session in.
    public var device: String?
    /// The people the caller chose to come first, in order.
    public var responders: [Responder] = []
    /// Whether the person gets reminders by text (nil: yes).
    public var reminders: Bool?
    /// The language to speak to the person in; nil: the hotline's.
    public var language: Language?

    /// Creates a request.
    public init(
        caller: Caller, location: Location, interval: Millis, grace: Millis, policy: String, notes: String?,
        substance: String? = nil, device: String? = nil
    ) {
        self.substance = substance
        self.device = device
        self.caller = caller
        self.location = location
        self.interval = interval
        self.grace = grace
        self.policy = policy
        self.notes = notes
    }
}

/// Fields an operator may change on an open session; nil leaves a field as it is.
public struct SessionPatch: Hashable, Sendable {
    /// New caller details.
    public var caller: Caller?
    /// New location.
    public var location: Location?
    /// New interval.
    public var interval: Millis?
    /// New grace.
    public var grace: Millis?
    /// New notes.
    public var notes: String?
    /// New substance.
    public var substance: String?
    /// An operator's pin (or unpin) of the dispatch route.
    public var route: RouteEdit?
    /// Whether the person gets reminders by text.
    public var reminders: Bool?
    /// Set by the engine when routing is on: what the session's location (after the patch) resolves to.
    public var resolvedRoute: SessionRoute?
    /// New language.
    public var language: Language?

    /// Creates a patch.
    public init(
        caller: Caller? = nil, location: Location? = nil, interval: Millis? = nil, grace: Millis? = nil,
        notes: String? = nil, substance: String? = nil
    ) {
        self.substance = substance
        self.caller = caller
        self.location = location
        self.interval = interval
        self.grace = grace
        self.notes = notes
    }

    /// Whether the patch changes nothing.
    public var isEmpty: Bool {
        caller == nil && location == nil && interval == nil && grace == nil && notes == nil && substance == nil
            && route == nil && reminders == nil && language == nil
    }
}

/// How one notification's delivery ended, reported by the delivery worker.
public enum DeliveryOutcome: Hashable, Sendable {
    /// Target `targetIndex` answered 2xx.
    case delivered(targetIndex: Int, status: Int, attempts: Int)
    /// Target `targetIndex` failed its attempts; the next target (if any) takes over.
    case targetFailed(targetIndex: Int, reason: String, attempts: Int)
}

/// Everything that can happen to a session.
public enum Command: Hashable, Sendable {
    /// The person is OK.
    case checkIn(source: CheckInSource, note: String?)
    /// An operator owns the escalation.
    case acknowledge(operator: ActorName, note: String?)
    /// Dispatch now, without waiting for the ladder.
    case dispatchNow(by: ActorName)
    /// Close the session.
    case end(outcome: Outcome, by: ActorName, note: String?)
    /// Change details.
    case update(SessionPatch, by: ActorName)
    /// A dispatch partner's report.
    case dispatchStatus(DispatchStatus, reference: String?, by: TargetName)
    /// Time passed: fire whatever is due.
    case deadline
    /// A delivery finished on one target of the notification.
    case delivery(OutboxItem, DeliveryOutcome)
    /// A responder answered on their page (`index` is their place in the list, 0-based).
    case responderAnswer(index: Int, answer: ResponderAnswer)
    /// Caught in a mass lapse: hold dispatch steps until `until`.
    case massLapseHold(until: Timestamp, count: Int)
    /// A supervisor released the mass-lapse holds.
    case massLapseRelease(by: ActorName)
    /// The person texted `HELP` (or `911`, `SOS`): dispatch now, never held.
    case smsHelp
    /// The person texted something else: shown to operators, no state change.
    case smsText(String)
    /// An operator closes the session's follow-up.
    case closeFollowUp(
        FollowUpOutcome, naloxoneUsed: Bool?, note: String?, by: ActorName, referrals: [Referral] = [])
    /// The SMS gateway reported what became of a text it had taken (its status callback).
    case textStatus(TextStatusReport)
    /// An open follow-up fell due: raise its reminder (once).
    case followUpDue
}
