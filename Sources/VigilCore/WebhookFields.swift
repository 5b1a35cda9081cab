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

/// Which parts of the session each webhook carries (CONTRACT, Configuration: `fields:`).
///
/// The outbox keeps the whole session, sealed; each target gets its own projection at send time, the same bytes on
/// every attempt. The session `id` (and state, times, escalation) always stay.
public enum WebhookFields {
    /// Everything a responder needs: every field but the operators' internal notes.
    public static let dispatchDefault: Set<SessionField> = [
        .alias, .callbackNumber, .location, .accessNotes, .substance,
    ]
    /// What a responder asked to come needs: who and where.
    public static let responderDefault: Set<SessionField> = [.alias, .location]
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

    /// `envelope` with `data.session` cut down to `fields`; the bytes of a body that is not a JSON envelope with a
    /// session are returned unchanged.
    public static func project(_ body: [UInt8], type: EventType, fields configured: Set<SessionField>?) throws
        -> [UInt8]
    {
        let fields = effective(type, configured: configured)
        if fields == Set(SessionField.allCases) { return body }
        let value = try VigilJSON.decode(JSONValue.self, from: body)
        guard case .object(let envelope) = value, case .object(let data) = envelope["data"] ?? .null,
            case .object = data["session"] ?? .null
        else { return body }
        return try VigilJSON.encode(projected(value, fields: fields))
    }

    /// The envelope, parsed once, with `data.session` cut down to the fields `configured` allows for `type`.
    public static func projected(_ body: [UInt8], type: EventType, fields configured: Set<SessionField>?) throws
        -> JSONValue
    {
        projected(try VigilJSON.decode(JSONValue.self, from: body), fields: effective(type, configured: configured))
    }

    static func projected(_ value: JSONValue, fields: Set<SessionField>) -> JSONValue {
        guard fields != Set(SessionField.allCases), case .object(var envelope) = value,
            case .object(var data) = envelope["data"] ?? .null,
            case .object(let session) = data["session"] ?? .null
        else { return value }
        data["session"] = .object(project(session: session, fields))
        envelope["data"] = .object(data)
        return .object(envelope)
    }

    /// A session object with only `fields` of its personal data.
    public static func project(session: [String: JSONValue], _ fields: Set<SessionField>) -> [String: JSONValue] {
        var s = session
        if case .object(var caller) = s["caller"] ?? .null {
            if !fields.contains(.alias) { caller["alias"] = nil }
            if !fields.contains(.callbackNumber) { caller["callback_number"] = nil }
            s["caller"] = caller.isEmpty ? nil : .object(caller)
        }
        if case .object(var location) = s["location"] ?? .null {
            if !fields.contains(.location) { location = location.filter { $0.key == "access_notes" } }
            if !fields.contains(.accessNotes) { location["access_notes"] = nil }
            s["location"] = location.isEmpty ? nil : .object(location)
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
