import VigilCore

/// What a token may do.
public enum Role: String, Sendable, Hashable, CaseIterable {
    case `operator`
    case supervisor
    case admin
    case integration

    /// Whether the role may perform `permission`.
    public func allows(_ permission: Permission) -> Bool {
        switch self {
        case .admin: return true
        case .operator, .supervisor: return permission != .reportDispatchStatus
        case .integration: return [.read, .checkIn, .reportDispatchStatus].contains(permission)
        }
    }
}

/// Actions guarded by roles.
public enum Permission: Sendable, Hashable {
    case read
    case start
    case update
    case checkIn
    case acknowledge
    case dispatch
    case end
    case reportDispatchStatus
}

/// The authenticated caller of a request.
public struct Principal: Sendable, Hashable {
    /// The token's name in configuration (logged; never the token).
    public var name: String
    /// Its role.
    public var role: Role

    /// Creates a principal.
    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }
}

/// A configured bearer token.
public struct TokenEntry: Sendable {
    /// The token's name.
    public var name: String
    /// Its role.
    public var role: Role
    /// The secret bytes.
    public var token: [UInt8]

    /// Creates an entry.
    public init(name: String, role: Role, token: String) {
        self.name = name
        self.role = role
        self.token = Array(token.utf8)
    }
}

/// Checks bearer tokens in constant time: every configured token is compared in full, whatever matches.
public struct TokenAuthenticator: Sendable {
    private let entries: [TokenEntry]

    /// Creates an authenticator over the configured tokens.
    public init(_ entries: [TokenEntry]) { self.entries = entries }

    /// The principal a presented token belongs to, if any.
    public func authenticate(_ presented: String) -> Principal? {
        let p = Array(presented.utf8)
        var found: Principal?
        for e in entries {
            if Self.constantTimeEquals(p, e.token) && found == nil { found = Principal(name: e.name, role: e.role) }
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
