import VigilCore

extension Input {
    /// `"route": {"target": "ems-x"}` pins a target, `"route": null` unpins; absent leaves the route as it is.
    static func routeEdit(_ o: [String: JSONValue]) throws -> RouteEdit? {
        switch o["route"] {
        case nil: return nil
        case .null?: return .unpin
        case .object(let r)?:
            try onlyKeys(r, ["target"], in: "route")
            guard let t = try string(r, "target", in: "route", max: 200), !t.isEmpty else {
                throw VigilError.invalid("route.target is required (or \"route\": null to unpin)")
            }
            return .pin(TargetName(rawValue: t))
        default:
            throw VigilError.invalid("route must be an object {\"target\": \"…\"} or null")
        }
    }

    /// `POST /v1/follow-ups/{id}/close`.
    struct FollowUpClose: Equatable {
        var outcome: FollowUpOutcome
        /// Whether naloxone was used; nil when nobody knows.
        var naloxoneUsed: Bool?
        var note: String?
        /// The ids of the resources offered.
        var referrals: [String] = []
    }

    static func closeFollowUp(_ bytes: [UInt8], resources: Set<String> = []) throws -> FollowUpClose {
        let o = try object(bytes)
        try onlyKeys(o, ["outcome", "naloxone_used", "note", "referrals"], in: "")
        guard let s = try string(o, "outcome", max: 40) else { throw VigilError.invalid("outcome is required") }
        guard let outcome = FollowUpOutcome(rawValue: s) else {
            let known = FollowUpOutcome.allCases.map(\.rawValue).joined(separator: ", ")
            throw VigilError.invalid("outcome must be one of \(known)")
        }
        let naloxone: Bool?
        switch o["naloxone_used"] {
        case nil, .null?: naloxone = nil
        case .bool(let b)?: naloxone = b
        default: throw VigilError.invalid("naloxone_used must be true, false or null")
        }
        var close = FollowUpClose(outcome: outcome, naloxoneUsed: naloxone, note: try string(o, "note"))
        close.referrals = try referrals(o, known: resources)
        return close
    }

    /// A report bound: a date (`2026-11-01`, midnight UTC) or an RFC 3339 time.
    static func reportBound(_ raw: String?, name: String) throws -> Timestamp? {
        guard let raw, !raw.isEmpty else { return nil }
        guard raw.utf8.count <= 40 else { throw VigilError.invalid("\(name) is too long") }
        if let t = Timestamp(rfc3339: raw) { return t }
        if raw.utf8.count == 10, let t = Timestamp(rfc3339: raw + "T00:00:00Z") { return t }
        throw VigilError.invalid("\(name) must be a date (2026-11-01) or an RFC 3339 time")
    }
}
