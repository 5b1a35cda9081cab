import Foundation

/// A dispatch message as a call-taker reads it, for one target: its `fields:` already applied.
///
/// Built at send time from the stored envelope (the session and `data.dispatch_facts`) and the hotline; the JSON,
/// CAP and EIDO bodies are all made from it, so the three carry the same `summary`.
public struct DispatchBrief: Sendable, Hashable {
    /// An earlier message of the escalation.
    public struct Reference: Sendable, Hashable {
        /// Its webhook id (the CAP identifier).
        public var id: WebhookID
        /// When it was sent.
        public var sent: Timestamp
    }

    /// `dispatch.requested`, `dispatch.updated` or `dispatch.cancelled`.
    public var type: EventType
    /// When the message was made.
    public var sent: Timestamp
    /// The session's id.
    public var sessionID: String
    /// The engine's facts.
    public var facts: DispatchFacts
    /// Where, cut down to the target's fields (nil when it receives no part of the location).
    public var location: Location?
    /// The access notes, when the target receives them.
    public var accessNotes: String?
    /// The person's alias.
    public var alias: String?
    /// The person's number.
    public var callbackNumber: String?
    /// What the person said they are using.
    public var substance: String?
    /// The hotline.
    public var hotline: Hotline
    /// Why: the envelope's `reason`.
    public var reason: String?
    /// Earlier messages of the escalation: webhook id and when it was sent.
    public var references: [Reference]

    /// Creates a brief; `DispatchPayload.brief` makes one from a stored envelope.
    public init(
        type: EventType, sent: Timestamp, sessionID: String, facts: DispatchFacts, location: Location?,
        accessNotes: String?, alias: String?, callbackNumber: String?, substance: String?, hotline: Hotline,
        reason: String?, references: [Reference]
    ) {
        self.type = type
        self.sent = sent
        self.sessionID = sessionID
        self.facts = facts
        self.location = location
        self.accessNotes = accessNotes
        self.alias = alias
        self.callbackNumber = callbackNumber
        self.substance = substance
        self.hotline = hotline
        self.reason = reason
        self.references = references
    }

    /// A time read aloud, in the hotline's zone.
    public func spoken(_ t: Timestamp) -> String { Spoken.time(t, zone: hotline.timeZone, reference: sent) }

    /// The escalation in one line: "last check-in 04:20 CST; no answer since 04:26 CST; supervisors notified …".
    public var history: String {
        // A check-in after the lapse (a cancel) is the last contact: it goes at the end, not the start.
        let recovered = facts.lastContactAt > facts.missedCheckInDueAt
        var parts = recovered ? [] : ["last check-in \(spoken(facts.lastContactAt))"]
        parts.append("no answer since \(spoken(facts.missedCheckInDueAt))")
        for m in facts.marks {
            switch m.kind {
            case .notified: parts.append("\(m.who ?? "targets") notified \(spoken(m.at))")
            case .acknowledged: parts.append("acknowledged by \(m.who ?? "an operator") \(spoken(m.at))")
            case .dispatchRequested:
                let by = m.who.map { $0 == "ladder" ? "" : " by \($0)" } ?? ""
                parts.append("dispatch requested\(by) \(spoken(m.at))")
            }
        }
        if recovered { parts.append("checked in \(spoken(facts.lastContactAt))") }
        return parts.joined(separator: "; ")
    }

    /// The place in one line, as far as the target may know it.
    public var place: String? {
        guard let l = location else { return nil }
        let line = l.oneLine
        return line.isEmpty ? nil : line
    }

    /// The one line a call-taker reads aloud: the same text in every format.
    public var summary: String {
        var out: [String] = []
        switch type {
        case .dispatchCancelled:
            out.append(
                "CANCEL \(facts.incident): \(facts.cancelReason ?? "the dispatch is called off") (\(spoken(sent))).")
            if let place { out.append("At \(place).") }
            out.append(contentsOf: callBack)
            return out.joined(separator: " ")
        case .dispatchUpdated:
            let what = (facts.changed ?? []).map { $0.replacingOccurrences(of: "_", with: " ") }
            out.append("UPDATE \(facts.incident): \(what.isEmpty ? "details" : what.joined(separator: ", ")) changed.")
        default:
            break
        }
        let who = alias.map { "\($0) " } ?? "The person "
        var lapse = "Suspected overdose: \(who)stopped answering at \(spoken(facts.missedCheckInDueAt))"
        let ago = sent - facts.missedCheckInDueAt
        if ago.value >= 60_000 { lapse += ", \(Spoken.duration(ago)) ago" }
        lapse += " (last check-in \(spoken(facts.lastContactAt)))."
        out.append(lapse)
        if let substance { out.append("Said they were using: \(substance).") }
        if let place { out.append("At \(place).") }
        if let accessNotes { out.append("Access: \(accessNotes).") }
        out.append(contentsOf: callBack)
        if type == .dispatchRequested { out.append("Reference \(facts.incident).") }
        return out.joined(separator: " ")
    }

    /// "Call back: person …, hotline … (operator …).", when there is a number to give.
    var callBack: [String] {
        var call: [String] = []
        if let callbackNumber { call.append("person \(callbackNumber)") }
        if let n = hotline.callbackNumber {
            call.append("hotline \(n)" + (facts.operatorOnDuty.map { " (operator \($0))" } ?? ""))
        }
        return call.isEmpty ? [] : ["Call back: \(call.joined(separator: ", "))."]
    }

    /// The responder-shaped `data.dispatch` object of JSON bodies.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "incident": .string(facts.incident), "nature": "suspected_overdose",
            "last_contact_at": .time(facts.lastContactAt), "missed_check_in_due_at": .time(facts.missedCheckInDueAt),
            "history": .string(history),
        ]
        if let t = facts.requestedAt { o["requested_at"] = .time(t) }
        var loc: [String: JSONValue] = [:]
        if let l = location {
            loc["address"] = .string(l.address)
            for (k, v) in [
                ("unit", l.unit), ("city", l.city), ("region", l.region), ("postal_code", l.postalCode),
                ("country", l.country),
            ] {
                if let v { loc[k] = .string(v) }
            }
            if let lat = l.latitude, let lon = l.longitude {
                loc["latitude"] = .double(lat)
                loc["longitude"] = .double(lon)
                if let a = l.accuracyM { loc["accuracy_m"] = .double(a) }
            }
        }
        if let accessNotes { loc["access_notes"] = .string(accessNotes) }
        if !loc.isEmpty { o["location"] = .object(loc) }
        var person: [String: JSONValue] = [:]
        if let alias { person["alias"] = .string(alias) }
        if let callbackNumber { person["callback_number"] = .string(callbackNumber) }
        if let substance { person["substance"] = .string(substance) }
        if !person.isEmpty { o["person"] = .object(person) }
        var h: [String: JSONValue] = [:]
        if let v = hotline.organization { h["organization"] = .string(v) }
        if let v = hotline.callbackNumber { h["callback_number"] = .string(v) }
        if let v = facts.operatorOnDuty { h["operator"] = .string(v) }
        if !h.isEmpty { o["hotline"] = .object(h) }
        if let c = facts.changed { o["changed"] = .strings(c) }
        if let r = facts.cancelReason { o["cancel_reason"] = .string(r) }
        return .object(o)
    }
}

/// Turns stored dispatch envelopes into what each target receives.
public enum DispatchPayload {
    /// The brief of a stored envelope for a target with `fields` (nil: the defaults); nil when the envelope is not
    /// a dispatch message with facts.
    public static func brief(_ envelope: JSONValue, fields configured: Set<SessionField>?, hotline: Hotline)
        -> DispatchBrief?
    {
        guard let env = StoredEnvelope.read(envelope), let type = EventType(rawValue: env.type),
            let sent = env.timestamp, let data = env.data, let facts = data.dispatchFacts
        else { return nil }
        let fields = WebhookFields.effective(type, configured: configured)
        let session = data.session
        var location: Location?
        if fields.contains(.location), var whole = session?.location?.location {
            whole.accessNotes = nil
            location = whole
        }
        let references = (data.references ?? []).enumerated().map { i, id in
            DispatchBrief.Reference(
                id: id, sent: i < facts.referencesSent.count ? facts.referencesSent[i] : sent)
        }
        return DispatchBrief(
            type: type, sent: sent, sessionID: session?.id ?? "", facts: facts, location: location,
            accessNotes: fields.contains(.accessNotes) ? session?.location?.accessNotes : nil,
            alias: fields.contains(.alias) ? session?.caller?.alias : nil,
            callbackNumber: fields.contains(.callbackNumber) ? session?.caller?.callbackNumber : nil,
            substance: fields.contains(.substance) ? session?.substance : nil, hotline: hotline,
            reason: data.reason, references: references)
    }

    /// The JSON body a target receives: `data.session` cut down to its fields and, on dispatch messages,
    /// `data.summary` and `data.dispatch` made for it; the engine's facts never leave.
    public static func json(_ body: [UInt8], type: EventType, fields: Set<SessionField>?, hotline: Hotline) throws
        -> [UInt8]
    {
        let envelope = try VigilJSON.decode(JSONValue.self, from: body)
        guard case .object(var env) = envelope, case .object(var data) = env["data"] ?? .null,
            data["dispatch_facts"] != nil
        else { return try WebhookFields.project(body, type: type, fields: fields) }
        let brief = Self.brief(envelope, fields: fields, hotline: hotline)
        data["dispatch_facts"] = nil
        if let brief {
            data["dispatch"] = brief.json
            data["summary"] = .string(brief.summary)
        }
        if case .object(var session) = data["session"] ?? .null {
            // The engine's bookkeeping is nothing a responder needs.
            for key in ["version", "delivery_failures", "device"] { session[key] = nil }
            // When an acknowledged ladder resumes is the hotline's own bookkeeping, not the dispatcher's.
            if case .object(var escalation) = session["escalation"] ?? .null {
                escalation["paused_until"] = nil
                session["escalation"] = .object(escalation)
            }
            data["session"] = .object(
                WebhookFields.project(session: session, WebhookFields.effective(type, configured: fields)))
        }
        env["data"] = .object(data)
        return try VigilJSON.encode(JSONValue.object(env))
    }
}
