import VigilCore

/// What the person's and responders' pages and texts need from the configuration: the default language, the texts
/// with the hotline's overrides, the resources it offers and its own number.
public struct PersonSettings: Sendable {
    /// `hotline.language`: the language of a session that names none.
    public var language: Language = .en
    /// The catalog with `texts:` overrides.
    public var texts = TextCatalog()
    /// `resources:`, in the file's order.
    public var resources: [Resource] = []
    /// `hotline.callback_number`, shown where nothing else is left to offer.
    public var hotlineNumber: String?

    /// Defaults: English, the built-in texts, no resources.
    public init() {}

    /// The text of `key` in `language`.
    public func text(_ key: String, _ language: Language, _ args: [String: String] = [:]) -> String {
        texts.text(key, language, args)
    }
}
