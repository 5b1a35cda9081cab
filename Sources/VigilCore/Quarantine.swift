/// A stored row that could not be read back (its seal does not open, or what it holds does not decode): set aside
/// in the store, never retried blindly, and alarmed, naming its session, until an operator ends that session. One
/// such row never stops the reads of the others.
public struct QuarantinedRow: Hashable, Sendable {
    /// What the row is.
    public enum Kind: String, Hashable, Sendable {
        /// A session's snapshot: the session cannot be watched.
        case snapshot
        /// A notification in the outbox: it cannot be sent.
        case notification
    }

    /// What the row is.
    public var kind: Kind
    /// The session the row belongs to.
    public var sessionID: SessionID
    /// The row's own id: the notification's, or the session's for a snapshot.
    public var rowID: String
    /// What failed, naming no stored value.
    public var reason: String
    /// When the row was set aside.
    public var at: Timestamp

    /// Creates a record.
    public init(kind: Kind, sessionID: SessionID, rowID: String, reason: String, at: Timestamp) {
        self.kind = kind
        self.sessionID = sessionID
        self.rowID = rowID
        self.reason = reason
        self.at = at
    }

    /// One line for an operator: which session, which row, what failed.
    public var summary: String {
        switch kind {
        case .snapshot: "session \(sessionID.rawValue): its stored record cannot be read (\(reason))"
        case .notification:
            "session \(sessionID.rawValue): notification \(rowID) cannot be read (\(reason)) and is not sent"
        }
    }
}

/// A store that sets unreadable rows aside instead of failing every read that meets one.
public protocol QuarantineStore: Sendable {
    /// The rows set aside whose session has not ended, oldest first.
    func quarantined() async throws -> [QuarantinedRow]
    /// The stored version and start of a session whose snapshot is set aside and which has not ended; nil
    /// otherwise.
    func unreadableSession(_ id: SessionID) async throws -> (version: Int, startedAt: Timestamp)?
}

/// The error a read of an unreadable snapshot throws (after setting it aside): the session exists but cannot be
/// watched, and only ending it clears its alarm.
extension VigilError {
    /// A session whose stored record cannot be read.
    public static func unreadable(_ id: SessionID) -> VigilError {
        VigilError(
            .conflict,
            "session \(id.rawValue) cannot be read: its stored record is damaged and set aside; nobody watches this "
                + "person here: reach them another way, then end the session to clear the alarm")
    }
}
