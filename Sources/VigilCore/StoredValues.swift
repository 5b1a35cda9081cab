/// Reading enumerations back from a store: a value this version does not know (a newer Vigil wrote it, or the row
/// was damaged) is an error that names it, never quietly another value. A guessed outbox status could resend a
/// dispatch that was delivered; a guessed event type would misstate the timeline.
extension EventType {
    /// The event type stored as `raw`.
    public static func stored(_ raw: String) throws -> EventType {
        guard let t = EventType(rawValue: raw) else {
            throw VigilError(
                .internalError, "the store holds an event type this version does not know (\(raw.prefix(64)))")
        }
        return t
    }
}

extension OutboxStatus {
    /// The outbox status stored as `raw`.
    public static func stored(_ raw: String) throws -> OutboxStatus {
        guard let s = OutboxStatus(rawValue: raw) else {
            throw VigilError(
                .internalError, "the store holds an outbox status this version does not know (\(raw.prefix(64)))")
        }
        return s
    }
}
