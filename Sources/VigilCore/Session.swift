/// The running record of an escalation: which step is next, and any pause an operator holds.
public struct Escalation: Hashable, Sendable, Codable {
    /// The check-in deadline that was missed.
    public var missedDueAt: Timestamp
    /// When the ladder started (the end of the grace), nil while only overdue.
    public var startedAt: Timestamp?
    /// Index of the next step to fire.
    public var nextStep: Int
    /// Index of the last step fired, if any.
    public var lastStep: Int?
    /// Added to every step's time: the sum of the pauses' overruns.
    public var shift: Millis
    /// Automatic steps wait until this instant.
    public var pausedUntil: Timestamp?
    /// The operator who last acknowledged.
    public var acknowledgedBy: ActorName?
    /// When they acknowledged.
    public var acknowledgedAt: Timestamp?
    /// Targets notified by `notify` steps, told `escalation.resolved` if the person answers.
    public var notifiedTargets: [TargetName]
    /// Webhook ids sent in this escalation, in order, for `references`.
    public var references: [WebhookID]
    /// Notifications of `notify` steps, withdrawn if the session ends before they are delivered.
    public var notifications: [NotificationID]
    /// With no step left after an acknowledge's pause, when the alarm sounds again (every `ack_timeout_s`).
    public var realarmAt: Timestamp?
    /// What the escalation did, for the dispatcher's one-line history (nil in snapshots written before it existed).
    public var marks: [EscalationMark]?
    /// When each of `references` was sent, in the same order (nil in older snapshots).
    public var referenceTimes: [Timestamp]?

    /// A new escalation for a missed deadline.
    public init(missedDueAt: Timestamp) {
        self.missedDueAt = missedDueAt
        self.nextStep = 0
        self.shift = .zero
        self.notifiedTargets = []
        self.references = []
        self.notifications = []
    }
}

/// A dispatch request and what became of it.
public struct DispatchRecord: Hashable, Sendable, Codable {
    /// The notification carrying the request.
    public var notification: NotificationID
    /// When it was requested.
    public var requestedAt: Timestamp
    /// Who asked: `ladder` or an operator's name.
    public var requestedBy: ActorName
    /// The targets, in failover order.
    public var targets: [TargetName]
    /// When a target answered 2xx.
    public var deliveredAt: Timestamp?
    /// The target that accepted.
    public var target: TargetName?
    /// When every target had failed.
    public var failedAt: Timestamp?
    /// When the cancel was sent to the accepting target.
    public var cancelledAt: Timestamp?
    /// The partner's last reported status.
    public var status: DispatchStatus?
    /// The partner's own reference.
    public var reference: String?
    /// The webhook id of the request as the delivering target received it, for `references` in updates and cancels.
    public var webhookID: WebhookID?
    /// Every target that answered 2xx, in order (the closed loop moves from one to the next).
    public var deliveries: [TargetDelivery]?
    /// Every report of the partners, oldest first.
    public var reports: [StatusReport]?
    /// Every target whose turn with the dispatch came, in order (the first of the list, each one a failover moved
    /// to): the targets that hold it or may, and so may report on it. Nil in snapshots from before it was kept.
    public var sentTo: [TargetName]?

    /// A new request.
    public init(notification: NotificationID, requestedAt: Timestamp, requestedBy: ActorName, targets: [TargetName]) {
        self.notification = notification
        self.requestedAt = requestedAt
        self.requestedBy = requestedBy
        self.targets = targets
    }

    /// Whether the request is still alive (on the wire or accepted).
    public var isLive: Bool { failedAt == nil }

    /// Whether the dispatch went, or is going, to `target`: a partner may report only on a dispatch it received.
    public func reached(_ target: TargetName) -> Bool {
        if deliveries?.contains(where: { $0.target == target }) == true { return true }
        // A snapshot from before the list was kept: any target of the step, as then.
        return (sentTo ?? targets).contains(target)
    }

    /// The last status `target` reported.
    public func lastStatus(of target: TargetName) -> DispatchStatus? {
        reports?.last(where: { $0.target == target })?.status
    }
}

/// A session: the fold of its events, kept as a snapshot.
public struct Session: Hashable, Sendable, Codable {
    /// The session's id.
    public var id: SessionID
    /// Increases by one with every committed change; the store compares and sets on it.
    public var version: Int
    /// Lifecycle state.
    public var state: SessionState
    /// Who is watched.
    public var caller: Caller
    /// Where.
    public var location: Location
    /// Operator notes.
    public var notes: String?
    /// What the person said they are using (personal data, sealed at rest with the snapshot).
    public var substance: String?
    /// The name of the `device` token that may check this session in.
    public var device: String?
    /// Time allowed between check-ins.
    public var interval: Millis
    /// Time after a missed check-in before the ladder starts.
    public var grace: Millis
    /// The policy, copied at start so a configuration change never alters a running ladder.
    public var policy: Policy
    /// The token of the person's check-in link.
    public var checkInToken: String
    /// When the session started.
    public var startedAt: Timestamp
    /// The last check-in (the start counts as one).
    public var lastCheckInAt: Timestamp
    /// When the next check-in is due.
    public var due: Timestamp
    /// The escalation in progress, if any.
    public var escalation: Escalation?
    /// The dispatch of the current escalation, if any.
    public var dispatch: DispatchRecord?
    /// Dispatch notifications cancelled before any target accepted: an acceptance still owes a cancel.
    public var owedCancels: [NotificationID]
    /// Notifications that no target accepted, not yet cleared by an operator action.
    public var deliveryFailures: Int
    /// When it ended.
    public var endedAt: Timestamp?
    /// How it ended.
    public var outcome: Outcome?
    /// Counts notifications of this session, for the payload's `sequence`.
    public var notificationCount: Int
    /// The people the caller chose to come first, in order (nil: none).
    public var responders: [Responder]?
    /// Each contacted responder's link (its token's hash) and answer.
    public var responderLinks: [ResponderLink]?
    /// The `contact: responders` step in progress, if any.
    public var responderRun: ResponderRun?
    /// Caught in a mass lapse: dispatch steps wait until this instant (an operator may release or dispatch by hand).
    public var massLapseHoldUntil: Timestamp?

    /// Whether the next step is a dispatch that a mass-lapse hold keeps waiting past `t`; the hold's end if so.
    func heldDispatch(after t: Timestamp, step k: Int) -> Timestamp? {
        guard let h = massLapseHoldUntil, h > t, k < policy.steps.count, policy.steps[k].isDispatch else { return nil }
        return h
    }
    /// The dispatch route (`routes:`); nil when routing is off.
    public var routing: RoutingState?
    /// The follow-up, once the session was dispatched or ended `ems_attended`.
    public var followUp: FollowUp?
    /// Whether the person gets reminders before each due time (nil: yes, when the policy sends them).
    public var reminders: Bool?
    /// The due time whose reminder was decided (sent, or passed over), so that each due time has at most one.
    public var remindedFor: Timestamp?
    /// The language the person and responders are spoken to in (nil in snapshots from before it was kept: English).
    public var language: Language?

    /// The session's language, English when none was kept.
    public var spokenLanguage: Language { language ?? .en }

    /// A session as it starts.
    public init(
        id: SessionID, caller: Caller, location: Location, notes: String?, interval: Millis, grace: Millis,
        policy: Policy, checkInToken: String, at now: Timestamp
    ) {
        self.id = id
        self.version = 0
        self.state = .active
        self.caller = caller
        self.location = location
        self.notes = notes
        self.interval = interval
        self.grace = grace
        self.policy = policy
        self.checkInToken = checkInToken
        self.startedAt = now
        self.lastCheckInAt = now
        self.due = now + interval
        self.owedCancels = []
        self.deliveryFailures = 0
        self.notificationCount = 0
    }

    /// When step `k` of the current escalation falls due, before any pause.
    public func stepTime(_ k: Int) -> Timestamp? {
        guard let e = escalation, k < policy.steps.count else { return nil }
        return e.missedDueAt + grace + policy.steps[k].after + e.shift
    }

    /// The next instant at which time alone changes this session, if any.
    public var nextDeadline: Timestamp? {
        switch state {
        case .active:
            // A reminder before the due time is a deadline like a step's.
            return reminderAt.map { min($0, due) } ?? due
        case .overdue:
            let start = due + grace
            if let p = escalation?.pausedUntil, p > start { return p }
            return start
        case .escalating:
            guard let e = escalation else { return nil }
            // A responder's time to answer is a deadline like a step's; a pause holds both.
            let answer = responderRun?.answerBy
            // An acknowledged escalation always has a deadline: the pause's end, then the repeating alarm.
            guard let step = stepTime(e.nextStep) else {
                if let p = e.pausedUntil { return p }
                guard let answer else { return e.realarmAt }
                return min(answer, e.realarmAt ?? answer)
            }
            let held = heldDispatch(after: step, step: e.nextStep) ?? step
            let t = min(held, answer ?? held)
            if let p = e.pausedUntil, p > t { return p }
            return t
        case .dispatched:
            // The closed loop: a partner that must accept, or a crew that must arrive, by a stored instant.
            return dispatch?.deliveries?.compactMap(\.nextDeadline).min()
        case .ended:
            return nil
        }
    }
}
