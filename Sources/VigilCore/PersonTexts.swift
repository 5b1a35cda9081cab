import Foundation

/// Every text Vigil sends to the person or to a responder, by key and language, in one place.
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

    static let english: [String: String] = [
        reminder: "Your next check-in is due in {minutes} min. Check in here: {link} "
            + "Reply OK if you are OK, HELP for help.",
        prompt: "We have not heard from you. Check in here: {link} Reply OK if you are OK, HELP for help.",
        responderRequested: "Hi {name}, {alias} asked us to contact you. Please check on them now at {address}. "
            + "Tell us if you can go: {link}",
        responderCancelled: "You are no longer needed for this request. Thank you.",
        summary: "Vigil: {alias}: {what}",
    ]

    /// The text of `key` in `language` (English for now, and for any key or language it does not know).
    public static func text(_ key: String, language: String) -> String {
        english[key] ?? ""
    }

    /// The text of `key` in `language` with each `{name}` of `values` filled in.
    public static func text(_ key: String, language: String, _ values: [String: String]) -> String {
        fill(text(key, language: language), values)
    }

    /// `template` with each `{name}` of `values` replaced by its value.
    public static func fill(_ template: String, _ values: [String: String]) -> String {
        var out = template
        for (k, v) in values { out = out.replacingOccurrences(of: "{\(k)}", with: v) }
        return out
    }
}
