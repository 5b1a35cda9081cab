import Foundation
import VigilCore

/// One PostgreSQL server's address.
public struct PostgresEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// Host name or address (an IPv6 address without brackets).
    public var host: String
    /// TCP port.
    public var port: Int

    /// Creates an endpoint.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `postgres://USER@HOST[:PORT][,HOST[:PORT]…]/DB[?target_session_attrs=read-write]`, read as libpq reads it: with
/// several hosts, they are tried in order and the one that accepts writes (not in recovery) is used. Vigil always
/// writes, so it always looks for that one, with the option or without; `primary` means the same here, and other
/// values (a standby, `any`) are refused. No password (the configuration file must not hold secrets), no other
/// option (TLS is `tls: {ca_file: …}`).
struct PostgresURL {
    var user: String
    var endpoints: [PostgresEndpoint]
    var database: String

    static let maxHosts = 16

    static func parse(_ text: String) throws -> PostgresURL {
        guard text.utf8.count <= 2048 else { throw VigilError.invalid("storage.postgres is too long") }
        var rest = Substring(text)
        if rest.hasPrefix("postgres://") {
            rest = rest.dropFirst("postgres://".count)
        } else if rest.hasPrefix("postgresql://") {
            rest = rest.dropFirst("postgresql://".count)
        } else {
            throw VigilError.invalid("storage.postgres must be a postgres://USER@HOST:PORT/DB URL")
        }
        if rest.contains("#") { throw VigilError.invalid("storage.postgres must not have a fragment ('#')") }
        var query: Substring?
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        try checkOptions(query)
        guard let slash = rest.firstIndex(of: "/") else {
            throw VigilError.invalid("storage.postgres must name the database: postgres://USER@HOST:PORT/DB")
        }
        let authority = rest[..<slash]
        guard let db = String(rest[rest.index(after: slash)...]).removingPercentEncoding, !db.isEmpty,
            !db.contains("/")
        else { throw VigilError.invalid("storage.postgres must name the database: postgres://USER@HOST:PORT/DB") }
        guard let at = authority.lastIndex(of: "@") else {
            throw VigilError.invalid("storage.postgres must name the user: postgres://USER@HOST:PORT/DB")
        }
        let userinfo = authority[..<at]
        if userinfo.contains(":") {
            throw VigilError.invalid(
                "storage.postgres must not contain a password: give password_env or password_file instead")
        }
        guard let user = String(userinfo).removingPercentEncoding, !user.isEmpty else {
            throw VigilError.invalid("storage.postgres must name the user: postgres://USER@HOST:PORT/DB")
        }
        let hosts = authority[authority.index(after: at)...].split(separator: ",", omittingEmptySubsequences: false)
        guard hosts.count <= maxHosts else {
            throw VigilError.invalid("storage.postgres names more than \(maxHosts) hosts")
        }
        return PostgresURL(user: user, endpoints: try hosts.map(endpoint), database: db)
    }

    private static func checkOptions(_ query: Substring?) throws {
        guard let query else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: false) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, kv[0] == "target_session_attrs" else {
                throw VigilError.invalid(
                    "storage.postgres takes only target_session_attrs=read-write after '?' (TLS is tls: {ca_file: …})")
            }
            guard kv[1] == "read-write" || kv[1] == "primary" else {
                throw VigilError.invalid(
                    "storage.postgres: Vigil writes, so target_session_attrs must be read-write (or primary)")
            }
        }
    }

    private static func endpoint(_ text: Substring) throws -> PostgresEndpoint {
        let missing = VigilError.invalid("storage.postgres must name the host: postgres://USER@HOST:PORT/DB")
        var host: Substring
        var port: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw missing }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw missing }
                port = after.dropFirst()
            }
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { throw missing }
        } else {
            host = text
            if let colon = text.lastIndex(of: ":") {
                host = text[..<colon]
                port = text[text.index(after: colon)...]
            }
            let allowed = { (c: Character) in
                c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "-" || c == "_")
            }
            guard !host.isEmpty, host.allSatisfy(allowed) else { throw missing }
        }
        var number = 5432
        if let port {
            guard port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(port),
                (1...65535).contains(n)
            else { throw VigilError.invalid("storage.postgres has an invalid port") }
            number = n
        }
        return PostgresEndpoint(host: String(host), port: number)
    }
}
