/// A part of the session that a webhook may carry; a target's `fields:` lists the ones it receives.
public enum SessionField: String, Hashable, Sendable, CaseIterable, Comparable {
    case alias
    case callbackNumber = "callback_number"
    case location
    case accessNotes = "access_notes"
    case substance
    case notes

    public static func < (a: SessionField, b: SessionField) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// Which parts of the session each webhook carries (docs/contract.md, Configuration: `fields:`).
///
/// The outbox keeps the whole session, sealed; each target gets its own projection at send time, the same bytes on
/// every attempt. The session `id` (and state, times, escalation) always stay.
public enum WebhookFields {
    /// Everything a responder needs: every field but the operators' internal notes.
    public static let dispatchDefault: Set<SessionField> = [
        .alias, .callbackNumber, .location, .accessNotes, .substance,
    ]
    /// What a responder asked to come needs: who, where, and how to get in (the access notes go in `data.location`
    /// for the responder's page, never into the text).
    public static let responderDefault: Set<SessionField> = [.alias, .location, .accessNotes]
    /// Every other message: the alias only.
    public static let otherDefault: Set<SessionField> = [.alias]

    /// The fields a message of `type` carries to a target configured with `fields` (nil: the defaults by message).
    public static func effective(_ type: EventType, configured fields: Set<SessionField>?) -> Set<SessionField> {
        if let fields { return fields }
        switch type {
        case .dispatchRequested, .dispatchUpdated, .dispatchCancelled: return dispatchDefault
        case .responderRequested: return responderDefault
        default: return type.rawValue.hasPrefix("dispatch.") ? dispatchDefault : otherDefault
        }
    }

    /// Parses a `fields:` name.
    public static func field(named name: String) -> SessionField? { SessionField(rawValue: name) }

    /// `envelope` with every part cut down to `fields` (`data.session`; on responder messages also `data.location`
    /// and the text in `data.message`); the bytes of a body that is not a JSON envelope with a session are returned
    /// unchanged.
    public static func project(_ body: [UInt8], type: EventType, fields configured: Set<SessionField>?) throws
        -> [UInt8]
    {
        let fields = effective(type, configured: configured)
        // A responder request's stored template never leaves, so its body is always made again.
        if fields == Set(SessionField.allCases) && type != .responderRequested { return body }
        let value = try VigilJSON.decode(JSONValue.self, from: body)
        guard case .object(let envelope) = value, case .object(let data) = envelope["data"] ?? .null,
            case .object = data["session"] ?? .null
        else { return body }
        return try VigilJSON.encode(projected(value, fields: fields))
    }

    /// The envelope, parsed once, with every part cut down to the fields `configured` allows for `type`.
    public static func projected(_ body: [UInt8], type: EventType, fields configured: Set<SessionField>?) throws
        -> JSONValue
    {
        projected(try VigilJSON.decode(JSONValue.self, from: body), fields: effective(type, configured: configured))
    }

    static func projected(_ value: JSONValue, fields: Set<SessionField>) -> JSONValue {
        guard case .object(var envelope) = value, case .object(var data) = envelope["data"] ?? .null,
            case .object(let session) = data["session"] ?? .null
        else { return value }
        data["session"] = .object(project(session: session, fields))
        // A request stored before its template was kept is made again from the default when its text would say
        // more than the target may receive.
        let older = data["responder_url"] != nil && !fields.isSuperset(of: [.alias, .location])
        if data["message_template"] != nil || older { data = responderMessage(data, fields) }
        if case .object(let location) = data["location"] ?? .null {
            data["location"] = project(location: location, fields).map(JSONValue.object)
        }
        envelope["data"] = .object(data)
        return .object(envelope)
    }

    /// A responder request's `data` with its text made for `fields` (no alias, no address unless allowed; never the
    /// access notes) and the stored template removed.
    static func responderMessage(_ data: [String: JSONValue], _ fields: Set<SessionField>) -> [String: JSONValue] {
        var d = data
        let template = d.removeValue(forKey: "message_template")?.stringValue
        guard let name = d["responder"]?["name"]?.stringValue, let link = d["responder_url"]?.stringValue else {
            return d
        }
        let language = d["language"]?.stringValue.flatMap(Language.init(rawValue:)) ?? .en
        var address: String?
        if fields.contains(.location), let a = d["location"]?["address"]?.stringValue {
            address = ResponderMessage.addressLine(a, unit: d["location"]?["unit"]?.stringValue, language: language)
        }
        let alias = fields.contains(.alias) ? d["session"]?["caller"]?["alias"]?.stringValue : nil
        d["message"] = .string(
            ResponderMessage.fill(template, name: name, alias: alias, address: address, link: link, language: language))
        return d
    }

    /// A location object with only `fields` of it; nil when nothing is left.
    static func project(location: [String: JSONValue], _ fields: Set<SessionField>) -> [String: JSONValue]? {
        var l = location
        if !fields.contains(.location) { l = l.filter { $0.key == "access_notes" } }
        if !fields.contains(.accessNotes) { l["access_notes"] = nil }
        return l.isEmpty ? nil : l
    }

    /// A session object with only `fields` of its personal data.
    public static func project(session: [String: JSONValue], _ fields: Set<SessionField>) -> [String: JSONValue] {
        var s = session
        if case .object(var caller) = s["caller"] ?? .null {
            if !fields.contains(.alias) { caller["alias"] = nil }
            if !fields.contains(.callbackNumber) { caller["callback_number"] = nil }
            s["caller"] = caller.isEmpty ? nil : .object(caller)
        }
        if case .object(let location) = s["location"] ?? .null {
            s["location"] = project(location: location, fields).map(JSONValue.object)
        }
        if !fields.contains(.location), case .object(var route) = s["route"] ?? .null {
            // What matched (a postal-code prefix, a region) says where the person is.
            route["matched"] = nil
            s["route"] = .object(route)
        }
        if !fields.contains(.substance) { s["substance"] = nil }
        if !fields.contains(.notes) { s["notes"] = nil }
        return s
    }
}
