import VigilCore

extension Input {
    /// The most responders a session or plan may name.
    static let maxResponders = 5

    /// `[{name, phone, relation}]`, at most five, each phone read into E.164 (a national number in `country`).
    static func responders(_ v: JSONValue, in place: String, country: PhoneNumber.Country?) throws -> [Responder] {
        guard case .array(let items) = v else { throw VigilError.invalid("\(place) must be a list") }
        guard items.count <= maxResponders else {
            throw VigilError.invalid("\(place) may name at most \(maxResponders) people")
        }
        return try items.enumerated().map { i, item in
            let where_ = "\(place)[\(i)]"
            guard case .object(let o) = item else { throw VigilError.invalid("\(where_) must be an object") }
            try onlyKeys(o, ["name", "phone", "relation"], in: where_)
            guard let name = try string(o, "name", in: where_, max: 100),
                !name.trimmingCharacters(in: .whitespaces).isEmpty
            else { throw VigilError.invalid("\(where_).name is required") }
            guard let raw = try string(o, "phone", in: where_, max: 40) else {
                throw VigilError.invalid("\(where_).phone is required")
            }
            guard let phone = PhoneNumber.e164(raw, defaultCountry: country) else {
                throw VigilError.invalid("\(where_).phone " + unreadableNumber(country))
            }
            return Responder(name: name, phone: phone, relation: try string(o, "relation", in: where_, max: 100))
        }
    }

    /// A plan's name: 1 to 100 letters, digits, `_`, `.` or `-` (a caller's alias).
    static func planName(_ raw: String) throws -> String {
        guard (1...100).contains(raw.count),
            raw.allSatisfy({ $0.isLetter || $0.isNumber || "_.-".contains($0) }),
            CharacterPolicy.problem(in: raw) == nil
        else {
            throw VigilError.invalid("a plan's name is 1 to 100 letters, digits, _ . or -")
        }
        return raw
    }

    /// `{"responders": [...]}` of `PUT /v1/plans/{name}`.
    static func plan(_ bytes: [UInt8], country: PhoneNumber.Country? = nil) throws -> [Responder] {
        let o = try object(bytes)
        try onlyKeys(o, ["responders"], in: "")
        guard let list = o["responders"] else { throw VigilError.invalid("responders is required") }
        let r = try responders(list, in: "responders", country: country)
        if r.isEmpty { throw VigilError.invalid("responders must name at least one person") }
        return r
    }

    /// The plan named in a start body, if any (read separately: it is resolved against the store).
    static func planReference(_ bytes: [UInt8]) throws -> String? {
        guard case .object(let o) = try? VigilJSON.decode(JSONValue.self, from: bytes) else { return nil }
        guard let name = try string(o, "plan", max: 100) else { return nil }
        if let r = o["responders"], r != .null {
            throw VigilError.invalid("give responders or plan, not both")
        }
        return try planName(name)
    }
}
