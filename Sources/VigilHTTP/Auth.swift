import Synchronization
import VigilCore

/// What a token may do: the least its holder needs (docs/contract.md, the role table).
public enum Role: String, Sendable, Hashable, CaseIterable {
    /// Reads sessions, timelines and the event stream; changes nothing.
    case viewer
    /// Everything on sessions.
    case `operator`
    /// An operator, plus `/metrics`.
    case supervisor
    /// Everything.
    case admin
    /// `GET /metrics` only: a Prometheus scrape credential.
    case metrics
    /// Check-ins only, on the sessions started for it.
    case device
    /// Dispatch status reports only, on sessions dispatched to its own target.
    case dispatch

    /// Whether the role may perform `permission` at all (scopes are checked per session).
    public func allows(_ permission: Permission) -> Bool {
        switch self {
        case .admin: return true
        case .supervisor: return permission != .reportDispatchStatus && permission != .reloadConfiguration
        case .operator:
            return permission != .reportDispatchStatus && permission != .metrics && permission != .releaseMassLapse
                && permission != .reloadConfiguration
                && permission != .auditHead
        case .viewer: return permission == .read
        case .metrics: return permission == .metrics
        case .device: return permission == .checkIn
        case .dispatch: return permission == .reportDispatchStatus
        }
    }

    /// Whether a person acting with this role counts as an operator (a check-in's `source`).
    public var isStaff: Bool { self == .operator || self == .supervisor || self == .admin }
}

/// Actions guarded by roles.
public enum Permission: Sendable, Hashable, CaseIterable {
    case read
    case start
    case update
    case checkIn
    case acknowledge
    case dispatch
    case end
    case reportDispatchStatus
    case metrics
    /// Saved response plans (operator and up).
    case plans
    /// `POST /v1/system/mass-lapse/release` (supervisor and up).
    case releaseMassLapse
    /// Reveal a session's location and callback number on the console (recorded as `location.viewed`).
    case viewLocation
    /// Read the person's check-in link after the start (recorded as `link.viewed`): the link checks them in.
    case viewCheckInLink
    /// `POST /v1/system/reload`: read the configuration file again (admin only).
    case reloadConfiguration
    /// `GET /v1/audit/head` (supervisor and up).
    case auditHead
}

/// The authenticated caller of a request.
public struct Principal: Sendable, Hashable {
    /// The token's name in configuration (logged; never the token).
    public var name: String
    /// Its role.
    public var role: Role
    /// For a `dispatch` token: the target it reports for.
    public var target: TargetName?
    /// For a `device` token: whether it may check in any session (a gateway), not only those started for it.
    public var anySession: Bool

    /// Creates a principal.
    public init(name: String, role: Role, target: TargetName? = nil, anySession: Bool = false) {
        self.name = name
        self.role = role
        self.target = target
        self.anySession = anySession
    }

    /// The token's name, as the timeline records who acted.
    public var actorName: ActorName { ActorName(rawValue: name) }

    /// Who acted, for the timeline.
    public var actor: Actor { Actor(name: actorName, role: role.rawValue) }
}

/// A configured bearer token.
public struct TokenEntry: Sendable {
    /// The token's name.
    public var name: String
    /// Its role.
    public var role: Role
    /// The secret bytes.
    public var token: [UInt8]
    /// For a `dispatch` token: its target.
    public var target: TargetName?
    /// For a `device` token: `scope: any`.
    public var anySession: Bool

    /// Creates an entry.
    public init(name: String, role: Role, token: String, target: TargetName? = nil, anySession: Bool = false) {
        self.name = name
        self.role = role
        self.token = Array(token.utf8)
        self.target = target
        self.anySession = anySession
    }
}

/// Checks bearer tokens in constant time: every configured token is compared in full, whatever matches.
///
/// Copies share one set of tokens, which a configuration reload replaces (`replace`): a token added works at once
/// everywhere, one removed is refused at once everywhere.
public struct TokenAuthenticator: Sendable {
    private let box: TokenBox
    private var entries: [TokenEntry] { box.entries.withLock { $0 } }

    /// Creates an authenticator over the configured tokens.
    public init(_ entries: [TokenEntry]) { self.box = TokenBox(entries) }

    /// Replaces the tokens; returns the names of the tokens that no longer hold as they did (removed, or given
    /// another secret, role, target or scope), whose holders must lose what they opened with the old one.
    @discardableResult
    public func replace(_ entries: [TokenEntry]) -> Set<String> {
        let old = box.entries.withLock { current in
            defer { current = entries }
            return current
        }
        return Set(old.filter { o in !entries.contains { $0.sameGrant(as: o) } }.map(\.name))
    }

    /// The role of the token named `name`, if one is configured.
    public func role(ofTokenNamed name: String) -> Role? { entries.first { $0.name == name }?.role }

    /// The names of the configured `device` tokens.
    public var deviceNames: Set<String> { Set(entries.filter { $0.role == .device }.map(\.name)) }

    /// The principal a presented token belongs to, if any.
    public func authenticate(_ presented: String) -> Principal? {
        let p = Array(presented.utf8)
        var found: Principal?
        for e in entries {
            if Self.constantTimeEquals(p, e.token) && found == nil {
                found = Principal(name: e.name, role: e.role, target: e.target, anySession: e.anySession)
            }
        }
        return found
    }

    /// Compares two byte strings in time that depends only on their lengths.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= x ^ y
        }
        return diff == 0 && !a.isEmpty
    }
}

extension TokenEntry {
    /// Whether `other` grants exactly what this one does, with the same secret.
    func sameGrant(as other: TokenEntry) -> Bool {
        name == other.name && role == other.role && target == other.target && anySession == other.anySession
            && TokenAuthenticator.constantTimeEquals(token, other.token)
    }
}

/// The tokens every copy of a `TokenAuthenticator` reads.
private final class TokenBox: Sendable {
    let entries: Mutex<[TokenEntry]>
    init(_ entries: [TokenEntry]) { self.entries = Mutex(entries) }
}
