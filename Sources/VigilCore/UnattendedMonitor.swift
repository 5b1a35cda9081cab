/// Decides when nobody is watching: sessions are open and no operator console has had its event stream connected
/// for `after`. One alarm per episode; the episode ends when a console connects again or no session is open.
///
/// Fed once a second with what the service sees; returns what to do. Pure, so a test drives it with a manual clock.
public struct UnattendedMonitor: Sendable, Equatable {
    /// What to do after an observation.
    public enum Action: Sendable, Equatable {
        /// Raise the alarm: nobody has watched for `for`, with `openSessions` open.
        case raise(openSessions: Int, for: Millis)
        /// The episode is over (a console connected, or nothing is open any more).
        case clear(reason: String)
    }

    /// How long sessions may be open with no console before the alarm; zero turns the check off.
    public let after: Millis
    /// Since when nobody has watched while sessions were open; nil while someone watches or nothing is open.
    public private(set) var unwatchedSince: Timestamp?
    /// Whether the alarm of the current episode was raised.
    public private(set) var raised = false

    /// Creates a monitor; `after` zero is off.
    public init(after: Millis) { self.after = after }

    /// One observation: how many sessions are open and how many operator consoles are connected, at `now`.
    public mutating func observe(openSessions: Int, consoles: Int, at now: Timestamp) -> Action? {
        guard after > .zero else { return nil }
        guard openSessions > 0, consoles == 0 else {
            unwatchedSince = nil
            guard raised else { return nil }
            raised = false
            return .clear(reason: consoles > 0 ? "an operator console is connected" : "no session is open")
        }
        let since = unwatchedSince ?? now
        unwatchedSince = since
        guard !raised, now - since >= after else { return nil }
        raised = true
        return .raise(openSessions: openSessions, for: now - since)
    }
}
