import Foundation

/// The hotline as dispatchers see it (configuration `hotline:`): who sends, and whom to call back.
public struct Hotline: Hashable, Sendable {
    /// The organization's name, CAP `<senderName>` and EIDO agency name.
    public var organization: String?
    /// CAP `<sender>`: an address that names the hotline uniquely.
    public var sender: String?
    /// The EIDO agency `$id` (a domain).
    public var agencyID: String?
    /// The hotline's own number, in E.164: it reaches the operator who holds the context.
    public var callbackNumber: String?
    /// The IANA time zone that times read aloud are given in.
    public var timeZone: String

    /// Creates hotline settings; the defaults name nobody and read times in UTC.
    public init(
        organization: String? = nil, sender: String? = nil, agencyID: String? = nil, callbackNumber: String? = nil,
        timeZone: String = "UTC"
    ) {
        self.organization = organization
        self.sender = sender
        self.agencyID = agencyID
        self.callbackNumber = callbackNumber
        self.timeZone = timeZone
    }

    /// The CAP sender when none is configured.
    public static let defaultSender = "vigil"
    /// The EIDO agency id when none is configured.
    public static let defaultAgencyID = "vigil.invalid"
}

/// One thing an escalation did, kept for the dispatcher's one-line history.
public struct EscalationMark: Hashable, Sendable, Codable {
    /// What happened.
    public enum Kind: String, Hashable, Sendable, Codable {
        /// Targets of a `notify` step were notified.
        case notified
        /// An operator acknowledged.
        case acknowledged
        /// A dispatch was requested.
        case dispatchRequested = "dispatch_requested"
    }

    /// What happened.
    public var kind: Kind
    /// When.
    public var at: Timestamp
    /// The targets notified, or the operator who acknowledged, or who requested the dispatch.
    public var who: String?

    /// Creates a mark.
    public init(_ kind: Kind, at: Timestamp, who: String?) {
        self.kind = kind
        self.at = at
        self.who = who
    }
}

/// What the engine knows of an escalation when it writes a `dispatch.*` notification: the times and marks that the
/// session view does not carry. Kept inside the stored envelope (`data.dispatch_facts`, sealed at rest like the
/// rest of it) and turned into `data.dispatch` and `data.summary` for each target at send time, after its `fields:`.
public struct DispatchFacts: Hashable, Sendable, Codable {
    /// The reference a call-taker quotes: the same for every message of one escalation's dispatch.
    public var incident: String
    /// The last check-in (the start counts as one).
    public var lastContactAt: Timestamp
    /// The check-in that was missed.
    public var missedCheckInDueAt: Timestamp
    /// When the dispatch was requested.
    public var requestedAt: Timestamp?
    /// The last operator who acknowledged, if any.
    public var operatorOnDuty: String?
    /// What the escalation did, in order.
    public var marks: [EscalationMark]
    /// What changed, for `dispatch.updated`.
    public var changed: [String]?
    /// Why the dispatch is called off, for `dispatch.cancelled`.
    public var cancelReason: String?
    /// When each of the envelope's `references` was sent, in the same order.
    public var referencesSent: [Timestamp]

    /// Creates facts.
    public init(
        incident: String, lastContactAt: Timestamp, missedCheckInDueAt: Timestamp, requestedAt: Timestamp?,
        operatorOnDuty: String?, marks: [EscalationMark], changed: [String]? = nil, cancelReason: String? = nil,
        referencesSent: [Timestamp] = []
    ) {
        self.incident = incident
        self.lastContactAt = lastContactAt
        self.missedCheckInDueAt = missedCheckInDueAt
        self.requestedAt = requestedAt
        self.operatorOnDuty = operatorOnDuty
        self.marks = marks
        self.changed = changed
        self.cancelReason = cancelReason
        self.referencesSent = referencesSent
    }

    enum CodingKeys: String, CodingKey {
        case incident, marks, changed
        case lastContactAt = "last_contact_at"
        case missedCheckInDueAt = "missed_check_in_due_at"
        case requestedAt = "requested_at"
        case operatorOnDuty = "operator"
        case cancelReason = "cancel_reason"
        case referencesSent = "references_sent"
    }

    /// The incident reference of a dispatch notification: `VGL-` and eight of its random characters, in capitals
    /// (Crockford base 32 has no I, L, O or U to misread over the phone).
    public static func incidentReference(_ id: NotificationID) -> String {
        let chars = Array(id.rawValue.dropFirst(4).uppercased())
        guard chars.count >= 8 else { return "VGL-" + String(chars) }
        return "VGL-" + String(chars[0..<4]) + "-" + String(chars[4..<8])
    }
}

/// Words and times as a call-taker reads them: local time with its zone named, and durations in plain units.
public enum Spoken {
    /// The zone, falling back to UTC for an identifier the system does not know (configuration refuses those).
    public static func zone(_ identifier: String) -> TimeZone {
        TimeZone(identifier: identifier) ?? TimeZone(identifier: "UTC")!
    }

    /// `04:26 CST`; with the date (`Nov 21 04:26 CST`) when it is not the day of `reference`.
    public static func time(_ t: Timestamp, zone identifier: String, reference: Timestamp? = nil) -> String {
        let tz = zone(identifier)
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = tz
        let date = Date(timeIntervalSince1970: Double(t.unixSeconds))
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        let hm = pad(c.hour ?? 0) + ":" + pad(c.minute ?? 0) + " " + abbreviation(tz, at: date)
        if let reference {
            let r = cal.dateComponents(
                [.year, .month, .day], from: Date(timeIntervalSince1970: Double(reference.unixSeconds)))
            if r.year == c.year && r.month == c.month && r.day == c.day { return hm }
        }
        guard reference != nil else { return hm }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let month = months[min(max((c.month ?? 1) - 1, 0), 11)]
        return "\(month) \(c.day ?? 1) \(hm)"
    }

    /// The zone's abbreviation at `date` (`CST`, `CDT`) as American English names it; `UTC` for UTC, and the offset
    /// (`UTC+1`) where it has no letters.
    static func abbreviation(_ tz: TimeZone, at date: Date) -> String {
        if tz.identifier == "UTC" || tz.identifier == "GMT" { return "UTC" }
        // `abbreviation(for:)` answers `GMT-6` on Linux; the localized short name is `CST`.
        let style: TimeZone.NameStyle = tz.isDaylightSavingTime(for: date) ? .shortDaylightSaving : .shortStandard
        if let a = tz.localizedName(for: style, locale: Locale(identifier: "en_US")), !a.isEmpty {
            return a.hasPrefix("GMT") ? "UTC" + a.dropFirst(3) : a
        }
        let s = tz.secondsFromGMT(for: date)
        return "UTC" + (s < 0 ? "-" : "+") + pad(abs(s) / 3600) + ":" + pad(abs(s) % 3600 / 60)
    }

    static func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// A duration in the largest sensible units: `45 s`, `3 min`, `2 h 5 min`, `3 d 4 h`.
    public static func duration(_ d: Millis) -> String {
        let s = max(0, d.wholeSeconds)
        if s < 60 { return "\(s) s" }
        let m = s / 60
        if m < 60 { return "\(m) min" }
        let h = m / 60
        if h < 48 { return m % 60 == 0 ? "\(h) h" : "\(h) h \(m % 60) min" }
        return h % 24 == 0 ? "\(h / 24) d" : "\(h / 24) d \(h % 24) h"
    }

    /// Why an escalation step or dispatch fires: the missed check-in, and how long the person has not answered
    /// since it was due (never "0 s after it was due": with no grace, the missed check-in is the reason).
    public static func missedReason(due: Timestamp, now: Timestamp) -> String {
        let base = "missed the check-in due at \(utcClock(due))"
        let late = now - due
        return late.value < 1000 ? base : base + "; no answer for \(duration(late))"
    }

    /// `10:53:04 UTC`, with the date when the time is not today's (a long gap, a restart after downtime).
    static func utcClock(_ t: Timestamp) -> String {
        let s = t.rfc3339
        return String(s.prefix(10)) + " " + String(s.dropFirst(11).prefix(8)) + " UTC"
    }
}
