/// A language Vigil speaks to the person and to responders (docs/contract.md, "Language").
public enum Language: String, Hashable, Sendable, Codable, CaseIterable {
    case en, es, fr

    /// `en, es, fr`, for error messages.
    public static let supportedList = allCases.map(\.rawValue).joined(separator: ", ")
}

/// Every text the person and responders read, one catalog per language, with a hotline's `texts:` overrides on top.
///
/// A text names its arguments in braces (`{link}`); `text(_:_:_:)` fills them in. No text asks a yes/no question
/// (a "yes" must never be read as an answer it was not) and none carries a word a locked screen must not show.
public struct TextCatalog: Hashable, Sendable {
    /// The hotline's overrides, by language then key.
    public var overrides: [Language: [String: String]]

    /// The built-in catalog with `overrides` on top.
    public init(overrides: [Language: [String: String]] = [:]) {
        self.overrides = overrides
    }

    /// The built-in texts of `language`.
    public static func builtIn(_ language: Language) -> [String: String] {
        switch language {
        case .en: english
        case .es: spanish
        case .fr: french
        }
    }

    /// Every key of the built-in catalogs (the English one is the reference).
    public static var keys: [String] { english.keys.sorted() }

    /// The text of `key` in `language` with `args` filled in: an override first, then the built-in text, then the
    /// English one; the key itself if nothing has it (a test keeps every key in every language).
    public func text(_ key: String, _ language: Language, _ args: [String: String] = [:]) -> String {
        let raw = overrides[language]?[key] ?? Self.builtIn(language)[key] ?? Self.english[key] ?? key
        return Self.fill(raw, args)
    }

    /// The built-in text of `key` in `language` with `args` filled in.
    public static func text(_ key: String, _ language: Language, _ args: [String: String] = [:]) -> String {
        TextCatalog().text(key, language, args)
    }

    /// Replaces every `{name}` of `args` in `raw`.
    /// One pass: a value that itself holds `{…}` is never filled again.
    public static func fill(_ raw: String, _ args: [String: String]) -> String {
        guard !args.isEmpty else { return raw }
        var out = ""
        var rest = Substring(raw)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest[rest.index(after: open)...]
            if let close = after.firstIndex(of: "}"), let value = args[String(after[..<close])] {
                out += value
                rest = after[after.index(after: close)...]
            } else {
                out += "{"
                rest = after
            }
        }
        return out + rest
    }

    /// The `{name}` placeholders of a text.
    public static func placeholders(_ text: String) -> Set<String> {
        var found: Set<String> = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { break }
            let name = after[..<close]
            if !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0 == "_") }) {
                found.insert(String(name))
            }
            rest = after[after.index(after: close)...]
        }
        return found
    }

    /// Words no text may carry, in any language (a text may show on a locked screen).
    public static let bannedWords = ["overdose", "sobredosis", "surdose"]

    /// Why `text` may not be a text to the person or a responder, or nil: a question (a "yes" must never be read
    /// as an answer it was not), a banned word, or a placeholder the key's built-in text does not have.
    public static func problem(key: String, text: String) -> String? {
        if text.contains("?") || text.contains("¿") {
            return "must not ask a question (a \"yes\" could be read as an answer it was not)"
        }
        let folded = text.lowercased()
        if let word = bannedWords.first(where: { folded.contains($0) }) {
            return "must not contain the word \"\(word)\" (a text may show on a locked screen)"
        }
        guard let reference = english[key] else { return "is not a known text" }
        let unknown = placeholders(text).subtracting(placeholders(reference))
        if let name = unknown.sorted().first {
            return "uses {\(name)}, which this text does not have (it has: "
                + placeholders(reference).sorted().map { "{\($0)}" }.joined(separator: ", ") + ")"
        }
        return nil
    }
}
