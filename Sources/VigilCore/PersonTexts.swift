import Foundation

/// The keys of the texts Vigil sends to the person or to a responder; the words are in the catalogs (`TextCatalog`).
///
/// A text may show on a locked screen: none names the address (except a responder's request, which must), the
/// substance or the word overdose in any language, and none asks a yes/no question (a "yes" must never be read as
/// an answer it was not). Placeholders in braces are filled by `fill`.
public enum PersonTexts {
    /// The reminder before a check-in is due: `{minutes}`, `{link}`.
    public static let reminder = "sms.reminder"
    /// The prompt of a ladder step `contact: person`: `{link}`.
    public static let prompt = "sms.prompt"
    /// A responder's request: `{name}`, `{alias}`, `{address}`, `{link}`.
    public static let responderRequested = "sms.responder_requested"
    /// A responder no longer needed.
    public static let responderCancelled = "sms.responder_cancelled"
    /// The one-line summary a supervisor's phone receives: `{alias}`, `{what}`.
    public static let summary = "sms.summary"

    /// Every key.
    public static let keys = [reminder, prompt, responderRequested, responderCancelled, summary]

    /// The language used when a session names none.
    public static let defaultLanguage = "en"

    /// The text of `key` in `language` (a `Language` code; English for one it does not know), from the catalogs.
    public static func text(_ key: String, language: String) -> String {
        TextCatalog.text(key, Language(rawValue: language) ?? .en)
    }

    /// The text of `key` in `language` with each `{name}` of `values` filled in.
    public static func text(_ key: String, language: String, _ values: [String: String]) -> String {
        fill(text(key, language: language), values)
    }

    /// `template` with each `{name}` of `values` replaced by its value (one pass, as the catalogs fill).
    public static func fill(_ template: String, _ values: [String: String]) -> String {
        TextCatalog.fill(template, values)
    }
}
