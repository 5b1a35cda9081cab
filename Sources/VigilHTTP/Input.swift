import VigilCore

/// Validates request bodies before they reach the core; every message names the field.
enum Input {
    static let maxText = 2000

    static func object(_ bytes: [UInt8], allowEmpty: Bool = false) throws -> [String: JSONValue] {
        if bytes.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 }) {
            if allowEmpty { return [:] }
            throw VigilError.invalid("the request body is empty; a JSON object is required")
        }
        let value: JSONValue
        do {
            value = try VigilJSON.decode(JSONValue.self, from: bytes)
        } catch {
            throw VigilError.invalid("the request body is not valid JSON")
        }
        guard case .object(let o) = value else { throw VigilError.invalid("the request body must be a JSON object") }
        return o
    }

    static func onlyKeys(_ o: [String: JSONValue], _ allowed: Set<String>, in place: String) throws {
        if let unknown = o.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw VigilError.invalid("unknown field \"\(place.isEmpty ? "" : place + ".")\(unknown)\"")
        }
    }

    static func string(_ o: [String: JSONValue], _ key: String, in place: String = "", max: Int = maxText) throws
        -> String?
    {
        let name = place.isEmpty ? key : "\(place).\(key)"
        switch o[key] {
        case nil, .null: return nil
        case .string(let s):
            guard s.unicodeScalars.count <= max, s.utf16.count <= max else {
                throw VigilError.invalid("\(name) is longer than \(max) characters")
            }
            if let problem = CharacterPolicy.problem(in: s) { throw VigilError.invalid("\(name) \(problem)") }
            return s
        default: throw VigilError.invalid("\(name) must be a string")
        }
    }

    /// A `true`/`false` field; nil when absent or null.
    static func flag(_ o: [String: JSONValue], _ key: String) throws -> Bool? {
        switch o[key] {
        case nil, .null: return nil
        case .bool(let b): return b
        default: throw VigilError.invalid("\(key) must be true or false")
        }
    }

    static func seconds(_ o: [String: JSONValue], _ key: String, range: ClosedRange<Int64>) throws -> Millis? {
        switch o[key] {
        case nil, .null: return nil
        case .int(let i):
            guard range.contains(i) else {
                throw VigilError.invalid("\(key) must be between \(range.lowerBound) and \(range.upperBound) seconds")
            }
            return .seconds(i)
        case .double(let d):
            guard d.rounded() == d, d.isFinite else { throw VigilError.invalid("\(key) must be whole seconds") }
            // Past Int64 (1e300, 99999999999999999999) there is no integer to check: out of range, never a trap.
            guard let i = Int64(exactly: d) else {
                throw VigilError.invalid("\(key) must be between \(range.lowerBound) and \(range.upperBound) seconds")
            }
            return try seconds([key: .int(i)], key, range: range)
        default: throw VigilError.invalid("\(key) must be a whole number of seconds")
        }
    }

    static func number(_ o: [String: JSONValue], _ key: String, in place: String, range: ClosedRange<Double>) throws
        -> Double?
    {
        let name = "\(place).\(key)"
        let d: Double
        switch o[key] {
        case nil, .null: return nil
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        default: throw VigilError.invalid("\(name) must be a number")
        }
        guard d.isFinite, range.contains(d) else {
            throw VigilError.invalid("\(name) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return d
    }

    static func caller(_ v: JSONValue?, country: PhoneNumber.Country?) throws -> Caller? {
        switch v {
        case nil, .null: return nil
        case .object(let o):
            try onlyKeys(o, ["alias", "callback_number"], in: "caller")
            var number = try string(o, "callback_number", in: "caller", max: 40)
            // Stored in E.164, so that a text from the number finds the session however the number was typed.
            if let raw = number, raw.contains(where: { !$0.isWhitespace }) {
                guard let e164 = PhoneNumber.e164(raw, defaultCountry: country) else {
                    throw VigilError.invalid("caller.callback_number " + unreadableNumber(country))
                }
                number = e164
            } else {
                number = nil
            }
            return Caller(alias: try string(o, "alias", in: "caller", max: 100), callbackNumber: number)
        default: throw VigilError.invalid("caller must be an object")
        }
    }

    static func location(_ v: JSONValue?, required: Bool) throws -> Location? {
        switch v {
        case nil, .null:
            if required { throw VigilError.invalid("location.address is required") }
            return nil
        case .object(let o):
            try onlyKeys(
                o,
                [
                    "address", "unit", "city", "region", "postal_code", "country", "latitude", "longitude",
                    "access_notes", "accuracy_m",
                ], in: "location")
            guard let address = try string(o, "address", in: "location", max: 500),
                !address.trimmingCharacters(in: .whitespaces).isEmpty
            else { throw VigilError.invalid("location.address is required") }
            let lat = try number(o, "latitude", in: "location", range: -90...90)
            let lon = try number(o, "longitude", in: "location", range: -180...180)
            if (lat == nil) != (lon == nil) {
                throw VigilError.invalid("location.latitude and location.longitude go together")
            }
            // Metres; bounded so that no radius claims more than a city, nor goes negative or infinite.
            let accuracy = try number(o, "accuracy_m", in: "location", range: 0...100_000)
            if accuracy != nil && lat == nil {
                throw VigilError.invalid("location.accuracy_m describes the coordinates: give latitude and longitude")
            }
            return Location(
                address: address, unit: try string(o, "unit", in: "location", max: 100),
                city: try string(o, "city", in: "location", max: 200),
                region: try string(o, "region", in: "location", max: 200),
                postalCode: try string(o, "postal_code", in: "location", max: 40),
                country: try string(o, "country", in: "location", max: 60), latitude: lat, longitude: lon,
                accessNotes: try string(o, "access_notes", in: "location"), accuracyM: accuracy)
        default: throw VigilError.invalid("location must be an object")
        }
    }

    static let intervalRange: ClosedRange<Int64> = 1...86_400
    static let graceRange: ClosedRange<Int64> = 0...86_400

    /// Why a phone number was refused, after the field's name.
    static func unreadableNumber(_ country: PhoneNumber.Country?) -> String {
        "cannot be read as a phone number: give + and the country code, e.g. +15551234567"
            + (country.map {
                " (or a number of the default country \($0.rawValue): ten digits, or eleven starting with 1)"
            }
                ?? "")
    }

    static func start(_ bytes: [UInt8], country: PhoneNumber.Country? = nil) throws -> StartRequest {
        let o = try object(bytes)
        try onlyKeys(
            o,
            [
                "caller", "location", "check_in_interval_s", "grace_s", "policy", "notes", "substance", "device",
                "responders", "plan", "reminders", "language",
            ], in: "")
        let location = try location(o["location"], required: true)!
        guard let interval = try seconds(o, "check_in_interval_s", range: intervalRange) else {
            throw VigilError.invalid("check_in_interval_s is required")
        }
        let grace = try seconds(o, "grace_s", range: graceRange) ?? .seconds(30)
        let policy = try string(o, "policy", max: 100) ?? "default"
        var req = StartRequest(
            caller: try caller(o["caller"], country: country) ?? Caller(), location: location, interval: interval,
            grace: grace,
            policy: policy, notes: try string(o, "notes", max: 4000), substance: try string(o, "substance", max: 200),
            device: try string(o, "device", max: 100))
        if let list = o["responders"], list != .null {
            req.responders = try responders(list, in: "responders", country: country)
        }
        req.reminders = try flag(o, "reminders")
        req.language = try language(o)
        return req
    }

    static func patch(_ bytes: [UInt8], country: PhoneNumber.Country? = nil) throws -> SessionPatch {
        let o = try object(bytes)
        try onlyKeys(
            o,
            [
                "caller", "location", "check_in_interval_s", "grace_s", "notes", "substance", "route", "reminders",
                "language",
            ],
            in: "")
        var p = SessionPatch(
            caller: try caller(o["caller"], country: country), location: try location(o["location"], required: false),
            interval: try seconds(o, "check_in_interval_s", range: intervalRange),
            grace: try seconds(o, "grace_s", range: graceRange), notes: try string(o, "notes", max: 4000),
            substance: try string(o, "substance", max: 200))
        p.route = try routeEdit(o)
        p.reminders = try flag(o, "reminders")
        p.language = try language(o)
        if p.isEmpty { throw VigilError.invalid("nothing to update") }
        return p
    }

    /// A check-in's note. A `source` in the body is accepted and ignored: the channel decides it.
    static func checkIn(_ bytes: [UInt8]) throws -> String? {
        let o = try object(bytes, allowEmpty: true)
        try onlyKeys(o, ["source", "note"], in: "")
        _ = try string(o, "source", max: 40)
        return try string(o, "note")
    }

    /// An acknowledge's note. An `operator` in the body is accepted and ignored: the token names who acted.
    static func acknowledge(_ bytes: [UInt8]) throws -> String? {
        let o = try object(bytes, allowEmpty: true)
        try onlyKeys(o, ["operator", "note"], in: "")
        _ = try string(o, "operator", max: 100)
        return try string(o, "note")
    }

    /// `POST /v1/sessions/{id}/end`.
    struct EndRequest: Equatable {
        var outcome: Outcome
        var note: String?
    }

    static func end(_ bytes: [UInt8]) throws -> EndRequest {
        let o = try object(bytes)
        try onlyKeys(o, ["outcome", "note"], in: "")
        guard let s = try string(o, "outcome", max: 40) else { throw VigilError.invalid("outcome is required") }
        guard let outcome = Outcome(rawValue: s) else {
            throw VigilError.invalid("outcome must be one of safe, ems_attended, false_alarm, caller_left, other")
        }
        return EndRequest(outcome: outcome, note: try string(o, "note"))
    }

    /// `POST /v1/sessions/{id}/dispatch-status`: a partner's report; `target` is named by an admin reporting for
    /// one (a dispatch token reports for its own).
    struct DispatchStatusReport: Equatable {
        var status: DispatchStatus
        var reference: String?
        var target: TargetName?
    }

    static func dispatchStatus(_ bytes: [UInt8]) throws -> DispatchStatusReport {
        let o = try object(bytes)
        try onlyKeys(o, ["status", "reference", "note", "target"], in: "")
        guard let s = try string(o, "status", max: 40) else { throw VigilError.invalid("status is required") }
        guard let st = DispatchStatus(rawValue: s) else {
            throw VigilError.invalid("status must be one of accepted, rejected, en_route, on_scene, closed")
        }
        _ = try string(o, "note")
        return DispatchStatusReport(
            status: st, reference: try string(o, "reference", max: 200),
            target: try string(o, "target", max: 200).map(TargetName.init(rawValue:)))
    }

    static func dispatch(_ bytes: [UInt8]) throws {
        let o = try object(bytes, allowEmpty: true)
        try onlyKeys(o, ["note", "operator"], in: "")
        _ = try string(o, "note")
        _ = try string(o, "operator", max: 100)
    }
}
