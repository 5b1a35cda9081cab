import Foundation
import VigilCore
import VigilHTTP
import Yams

/// `texts:` (overrides of the built-in catalog) and `resources: {file}` (the services offered to the person).
extension ConfigLoader.Parser {
    /// `texts: {es: {key: "…"}}`: each override held to the rules of the built-in texts.
    mutating func texts(_ n: Node) -> [Language: [String: String]] {
        var out: [Language: [String: String]] = [:]
        let languages = Set(Language.allCases.map(\.rawValue))
        guard let langs = map(n, "texts", allowed: languages) else { return out }
        let keys = Set(TextCatalog.keys)
        for (code, _, v) in langs {
            guard let language = Language(rawValue: code), let entries = map(v, "texts.\(code)", allowed: []) else {
                continue
            }
            for (key, keyNode, tv) in entries {
                guard keys.contains(key) else {
                    fail(keyNode, "texts.\(code): \"\(key)\" is not a text Vigil sends or shows")
                    continue
                }
                guard let text = tv.scalar?.string else {
                    fail(tv, "texts.\(code).\(key) must be text")
                    continue
                }
                if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || text.count > 1000 {
                    fail(tv, "texts.\(code).\(key) must be between 1 and 1000 characters")
                } else if let problem = CharacterPolicy.problem(in: text) {
                    fail(tv, "texts.\(code).\(key) \(problem)")
                } else if let problem = TextCatalog.problem(key: key, text: text) {
                    fail(tv, "texts.\(code).\(key) \(problem)")
                } else {
                    out[language, default: [:]][key] = text
                }
            }
        }
        return out
    }

    /// `resources: {file: "resources.yaml"}`: the file is read and every entry checked.
    mutating func resources(_ n: Node) -> [Resource] {
        guard let f = map(n, "resources", allowed: ["file"]) else { return [] }
        guard let (_, _, fv) = f.first, let file = string(fv, "resources.file"), !file.isEmpty else {
            fail(n, "resources needs file: the path of the resources file")
            return []
        }
        let path = file.hasPrefix("/") ? file : baseDirectory.map { $0 + "/" + file } ?? file
        guard let data = FileManager.default.contents(atPath: path) else {
            fail(fv, "resources.file: cannot read \(file)")
            return []
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            fail(fv, "resources.file: \(file) is not valid YAML")
            return []
        }
        // A list, or `{resources: [...]}` so the file can carry a note at the top.
        var list = root
        if let m = root?.mapping, let inner = m["resources"] { list = inner }
        guard let seq = list?.sequence else {
            fail(fv, "resources.file: \(file) must hold a list of resources (or resources: [...])")
            return []
        }
        var out: [Resource] = []
        var seen: Set<String> = []
        for (i, item) in seq.enumerated() {
            let place = "\(file): resource \(i + 1)"
            guard let r = resource(item, place) else { continue }
            if !seen.insert(r.id).inserted {
                fail(item, "\(place): id \(r.id) is used twice")
                continue
            }
            out.append(r)
        }
        return out
    }

    static let resourceKeys: Set<String> = [
        "id", "name", "kind", "phone", "url", "address", "latitude", "longitude", "region", "country", "languages",
        "hours", "by_mail",
    ]

    mutating func resource(_ n: Node, _ place: String) -> Resource? {
        guard let f = map(n, place, allowed: Self.resourceKeys) else { return nil }
        var text: [String: String] = [:]
        var lat: Double?
        var lon: Double?
        var languages: [Language] = [.en]
        var byMail = false
        var ok = true
        for (k, _, v) in f {
            switch k {
            case "latitude", "longitude":
                let range = k == "latitude" ? -90.0...90.0 : -180.0...180.0
                guard let d = v.scalar.flatMap({ Double($0.string) }), d.isFinite, range.contains(d) else {
                    fail(v, "\(place): \(k) must be a number from \(range.lowerBound) to \(range.upperBound)")
                    ok = false
                    continue
                }
                if k == "latitude" { lat = d } else { lon = d }
            case "languages":
                guard let seq = v.sequence, !seq.isEmpty else {
                    fail(v, "\(place): languages must be a list, e.g. [en, es]")
                    ok = false
                    continue
                }
                languages = []
                for x in seq {
                    guard let l = x.scalar.flatMap({ Language(rawValue: $0.string) }) else {
                        fail(x, "\(place): languages may list only \(Language.supportedList)")
                        ok = false
                        continue
                    }
                    if !languages.contains(l) { languages.append(l) }
                }
            case "by_mail":
                guard let b = v.scalar?.string, let flag = Bool(b.lowercased()) else {
                    fail(v, "\(place): by_mail must be true or false")
                    ok = false
                    continue
                }
                byMail = flag
            default:
                guard let s = v.scalar?.string else {
                    fail(v, "\(place): \(k) must be text")
                    ok = false
                    continue
                }
                let value = s.trimmingCharacters(in: .whitespaces)
                if value.isEmpty || value.count > 300 {
                    fail(v, "\(place): \(k) must be between 1 and 300 characters")
                    ok = false
                } else if let problem = CharacterPolicy.problem(in: value) {
                    fail(v, "\(place): \(k) \(problem)")
                    ok = false
                } else {
                    text[k] = value
                }
            }
        }
        guard ok else { return nil }
        guard let id = text["id"], id.count <= 64,
            id.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") })
        else {
            fail(n, "\(place): id is required: lowercase letters, digits, - and _ (at most 64)")
            return nil
        }
        guard let name = text["name"] else {
            fail(n, "\(place) (\(id)): name is required")
            return nil
        }
        guard let kind = text["kind"].flatMap(Resource.Kind.init(rawValue:)) else {
            let kinds = Resource.Kind.allCases.map(\.rawValue).joined(separator: ", ")
            fail(n, "\(place) (\(id)): kind must be one of \(kinds)")
            return nil
        }
        if (lat == nil) != (lon == nil) {
            fail(n, "\(place) (\(id)): give both latitude and longitude, or neither")
            return nil
        }
        if text["phone"] == nil && text["url"] == nil {
            fail(n, "\(place) (\(id)): give a phone or a url, so the person can reach it")
            return nil
        }
        if let url = text["url"], !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
            fail(n, "\(place) (\(id)): url must start with https:// or http://")
            return nil
        }
        if let country = text["country"], country.count != 2 || !country.allSatisfy({ $0.isASCII && $0.isLetter }) {
            fail(n, "\(place) (\(id)): country must be a two-letter ISO code, e.g. US")
            return nil
        }
        return Resource(
            id: id, name: name, kind: kind, phone: text["phone"], url: text["url"], address: text["address"],
            latitude: lat, longitude: lon, region: text["region"], country: text["country"]?.uppercased(),
            languages: languages, hours: text["hours"], byMail: byMail)
    }

    /// `hotline.language`.
    mutating func hotlineLanguage(_ v: Node) -> Language? {
        guard let s = v.scalar?.string, let l = Language(rawValue: s) else {
            fail(v, "hotline.language must be one of \(Language.supportedList)")
            return nil
        }
        return l
    }
}
