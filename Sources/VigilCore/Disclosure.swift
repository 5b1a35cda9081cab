/// How much of a session's personal data a read carries (the callback number, the location beyond `city`, `region`
/// and `country`, access notes, `notes`, `substance`, responders' names, phones and answers).
///
/// Personal data is read only where it is needed: a viewer never reads it; staff (operator, supervisor, admin) read
/// it while the session is in alarm (`overdue`, `escalating`, `dispatched`), when a dispatcher may need it now;
/// before and after that a staff member asks for it with a recorded reveal. The person's check-in link is in no read
/// at all (only in the answer that starts the session and in the recorded `check-in-link`).
public enum Disclosure: String, Sendable, Hashable, CaseIterable {
    /// Everything the session holds.
    case full
    /// What a viewer reads: the alias, and `city`, `region`, `country` with `"redacted": true`.
    case redacted

    /// The states in which a staff read carries the personal data: the session is in alarm.
    public static let alarmStates: Set<SessionState> = [.overdue, .escalating, .dispatched]

    /// What a read of a session in `state` carries for a reader who is staff or not.
    public static func read(staff: Bool, state: SessionState) -> Disclosure {
        staff && alarmStates.contains(state) ? .full : .redacted
    }
}

/// The location as a redacted read shows it: the city, the region, the country, and the mark that the rest was left
/// out.
struct RedactedLocation: Encodable, Sendable {
    let city: String?
    let region: String?
    let country: String?

    init(_ l: Location) {
        city = l.city
        region = l.region
        country = l.country
    }

    enum CodingKeys: String, CodingKey { case city, region, country, redacted }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(city, forKey: .city)
        try c.encodeIfPresent(region, forKey: .region)
        try c.encodeIfPresent(country, forKey: .country)
        try c.encode(true, forKey: .redacted)
    }
}

extension StoredEvent {
    /// The keys of event data that hold personal data: a note someone typed, the person's own text.
    public static let personalDataKeys: Set<String> = [
        "note", "notes", "text", "substance", "callback_number", "phone", "address", "access_notes",
    ]

    /// The event as a viewer reads it: every personal value in its data is `null`, and `"redacted": true` says so.
    public func redacted() -> StoredEvent {
        guard case .object(var o) = data else { return self }
        var changed = false
        for key in Self.personalDataKeys {
            if let v = o[key], v != .null {
                o[key] = .null
                changed = true
            }
        }
        guard changed else { return self }
        o["redacted"] = .bool(true)
        var copy = self
        copy.data = .object(o)
        return copy
    }

    /// The event as a reader with `disclosure` reads it.
    public func disclosed(_ disclosure: Disclosure) -> StoredEvent { disclosure == .full ? self : redacted() }
}
