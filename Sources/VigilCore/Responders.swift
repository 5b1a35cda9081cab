import Foundation

/// A person the caller chose to come first (a friend or neighbour with naloxone). Confidential.
public struct Responder: Hashable, Sendable, Codable {
    /// What the caller calls them.
    public var name: String
    /// Their phone number (E.164).
    public var phone: String
    /// How they know the caller (`friend`, `neighbour`, …).
    public var relation: String?

    /// Creates a responder.
    public init(name: String, phone: String, relation: String? = nil) {
        self.name = name
        self.phone = phone
        self.relation = relation
    }
}

/// What a responder answered on their page.
public enum ResponderAnswer: String, Hashable, Sendable, Codable, CaseIterable {
    /// *I'm going*: the ladder pauses for the policy's `going_pause_s`.
    case going
    /// *I'm there, they're OK*: a check-in (source `responder`).
    case ok
    /// *Call EMS now*: dispatch at once.
    case ems
}

/// A responder's link to their page: only its hash is kept, so the link cannot be read back from the store.
public struct ResponderLink: Hashable, Sendable, Codable {
    /// The responder's place in the session's list (0-based).
    public var index: Int
    /// SHA-256 of the token, hex.
    public var tokenHash: String
    /// When the link was made (the responder was contacted).
    public var issuedAt: Timestamp
    /// The last answer, if any.
    public var answer: ResponderAnswer?
    /// When it was given.
    public var answeredAt: Timestamp?

    /// Creates a link.
    public init(index: Int, tokenHash: String, issuedAt: Timestamp) {
        self.index = index
        self.tokenHash = tokenHash
        self.issuedAt = issuedAt
    }
}

/// A `contact: responders` step in progress: who is being asked, until when, and who is still waiting.
public struct ResponderRun: Hashable, Sendable, Codable {
    /// The ladder step (0-based) that started it.
    public var step: Int
    /// The gateway target the requests go to.
    public var via: TargetName
    /// How long each responder has to answer.
    public var answerWindow: Millis
    /// The responder whose answer is awaited now.
    public var current: Int?
    /// When the current responder's time to answer ends.
    public var answerBy: Timestamp?
    /// The current request's notification.
    public var notification: NotificationID?
    /// The next responder to contact.
    public var next: Int
    /// Responders contacted who have not answered and were not yet told they are no longer needed.
    public var waiting: [Int]
    /// Who answered *I'm going*, if anyone: nobody else is contacted.
    public var going: Int?
    /// When the run stopped (a later step fired, a check-in, an answer that ends it).
    public var stoppedAt: Timestamp?

    /// A new run for step `step`.
    public init(step: Int, via: TargetName, answerWindow: Millis) {
        self.step = step
        self.via = via
        self.answerWindow = answerWindow
        self.next = 0
        self.waiting = []
    }
}

/// Saved response plans: a caller's responders kept under a name (their alias) for reuse, sealed at rest.
public protocol PlanStore: Sendable {
    /// The plan saved under `name`, if any.
    func plan(named name: String) async throws -> [Responder]?
    /// Saves (or replaces) the plan under `name`.
    func savePlan(named name: String, responders: [Responder], at now: Timestamp) async throws
    /// Deletes the plan; false when there was none.
    func deletePlan(named name: String) async throws -> Bool
}

/// The text a responder gets by default: it names neither the person's substance nor the word overdose, since it
/// may show on a locked phone.
public enum ResponderMessage {
    /// The default template; `{name}`, `{alias}`, `{address}` and `{link}` are filled in.
    public static var defaultTemplate: String { template(for: .en) }

    /// The placeholders a template may use.
    public static let placeholders = ["{name}", "{alias}", "{address}", "{link}"]

    /// What `{address}` says when the gateway may not carry the location: the responder's page shows it.
    public static let addressOnPage = "the address on the page linked below"

    /// Fills in `template`.
    public static func render(
        _ template: String?, responder: Responder, alias: String?, location: Location, link: String,
        language: Language = .en
    ) -> String {
        fill(
            template, name: responder.name, alias: alias,
            address: addressLine(location.address, unit: location.unit, language: language), link: link,
            language: language)
    }

    /// The default template in `language`.
    public static func template(for language: Language) -> String {
        TextCatalog.text("sms.responder_requested", language)
    }

    /// The address and unit in one line, as the message gives it.
    public static func addressLine(_ address: String, unit: String?, language: Language = .en) -> String {
        guard let unit, !unit.isEmpty else { return address }
        return TextCatalog.text("sms.address_unit", language, ["address": address, "unit": unit])
    }

    /// Fills in `template` (nil: the default); a nil `alias` reads "Someone", a nil `address` points to the page.
    /// The access notes have no placeholder: a text may show on a locked screen, and the responder's page shows them.
    public static func fill(
        _ template: String?, name: String, alias: String?, address: String?, link: String, language: Language = .en
    ) -> String {
        let someone = TextCatalog.text("sms.someone", language)
        return (template ?? Self.template(for: language))
            .replacingOccurrences(of: "{name}", with: name)
            .replacingOccurrences(of: "{alias}", with: alias.flatMap { $0.isEmpty ? nil : $0 } ?? someone)
            .replacingOccurrences(of: "{address}", with: address ?? TextCatalog.text("sms.address_on_page", language))
            .replacingOccurrences(of: "{link}", with: link)
    }
}
