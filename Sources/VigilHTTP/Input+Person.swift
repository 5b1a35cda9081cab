import VigilCore

extension Input {
    /// `language`: one of the supported languages, or nil when absent; anything else is refused naming them.
    static func language(_ o: [String: JSONValue]) throws -> Language? {
        switch o["language"] {
        case nil, .null?: return nil
        case .string(let s)?:
            if let l = Language(rawValue: s) { return l }
            fallthrough
        default:
            throw VigilError.invalid("language must be one of \(Language.supportedList)")
        }
    }

    /// `referrals` of a follow-up's close: the ids of configured resources, each at most once.
    static func referrals(_ o: [String: JSONValue], known: Set<String>) throws -> [String] {
        switch o["referrals"] {
        case nil, .null?: return []
        case .array(let list)?:
            guard list.count <= 50 else { throw VigilError.invalid("referrals may name at most 50 resources") }
            var ids: [String] = []
            for item in list {
                guard case .string(let id) = item, id.utf8.count <= 100 else {
                    throw VigilError.invalid("referrals must be a list of resource ids")
                }
                guard known.contains(id) else {
                    throw VigilError.invalid("referrals: \"\(id.prefix(100))\" is not a configured resource")
                }
                if !ids.contains(id) { ids.append(id) }
            }
            return ids
        default:
            throw VigilError.invalid("referrals must be a list of resource ids")
        }
    }
}
