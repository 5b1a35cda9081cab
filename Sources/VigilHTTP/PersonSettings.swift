import Synchronization
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
    /// When the ended sessions were last read to find a link's session (shared by every copy of the settings).
    let endedLookups = EndedLookups()

    /// Defaults: English, the built-in texts, no resources.
    public init() {}

    /// Whether the ended sessions may be read again at `now`: at most once a second, so a stranger trying links
    /// cannot make the store read every ended session again and again.
    func mayLookUpEnded(at now: Timestamp) -> Bool {
        endedLookups.last.withLock { last in
            if let l = last, now >= l, now - l < .seconds(1) { return false }
            last = now
            return true
        }
    }

    /// The text of `key` in `language`.
    public func text(_ key: String, _ language: Language, _ args: [String: String] = [:]) -> String {
        texts.text(key, language, args)
    }
}

/// The time of the last read of the ended sessions.
final class EndedLookups: Sendable {
    let last = Mutex<Timestamp?>(nil)
}
