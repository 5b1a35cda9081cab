import Foundation
import VigilCore
import VigilDelivery
import VigilHTTP
import Yams

/// `auth.tokens` and `storage.postgres`.
extension ConfigLoader.Parser {
    mutating func tokens(_ n: Node) -> [TokenEntry] {
        guard let seq = n.sequence else {
            fail(n, "auth.tokens must be a list")
            return []
        }
        var out: [TokenEntry] = []
        var names = Set<String>()
        for item in seq {
            guard
                let f = map(
                    item, "a token",
                    allowed: ["name", "role", "token", "token_env", "token_file", "target", "scope"])
            else {
                continue
            }
            guard let (_, _, nn) = f.first(where: { $0.0 == "name" }), let name = nn.scalar?.string, !name.isEmpty
            else {
                fail(item, "a token needs a name")
                continue
            }
            if !names.insert(name).inserted { fail(nn, "the token name \"\(name)\" is used twice") }
            let roles = Role.allCases.map(\.rawValue).joined(separator: ", ")
            guard let (_, _, rn) = f.first(where: { $0.0 == "role" }) else {
                fail(item, "token \(name) needs a role (\(roles))")
                continue
            }
            if rn.scalar?.string == "integration" {
                fail(
                    rn,
                    "token \(name): the integration role was split by least privilege: use device (check-ins only), "
                        + "dispatch (dispatch-status for its own target) or viewer (read-only)")
                continue
            }
            guard let roleText = rn.scalar?.string, let role = Role(rawValue: roleText) else {
                fail(rn, "token \(name): role must be one of \(roles)")
                continue
            }
            var target: TargetName?
            var anySession = false
            for (k, kn, v) in f {
                if k == "target" {
                    guard role == .dispatch else {
                        fail(kn, "token \(name): target is for tokens of the dispatch role")
                        continue
                    }
                    target = v.scalar.map { TargetName(rawValue: $0.string) }
                }
                if k == "scope" {
                    guard role == .device, let sc = v.scalar?.string, sc == "any" || sc == "own" else {
                        fail(kn, "token \(name): scope (any or own) is for tokens of the device role")
                        continue
                    }
                    anySession = sc == "any"
                }
            }
            if role == .dispatch && target == nil {
                fail(item, "token \(name): a dispatch token names the target it reports for (target: NAME)")
            }
            if let target { dispatchTokenTargets.append((name, target, item)) }
            guard let secret = secret(f, "token", "token \(name)", owner: item) else { continue }
            if secret.utf8.count < 16 {
                fail(item, "token \(name) is shorter than 16 characters; use a long random token")
                continue
            }
            out.append(TokenEntry(name: name, role: role, token: secret, target: target, anySession: anySession))
        }
        return out
    }

    /// `storage.postgres` and what goes with it; nil when the storage is SQLite.
    mutating func postgresSettings(_ f: [(String, Node, Node)], owner: Node) -> PostgresSettings? {
        guard let (_, _, un) = f.first(where: { $0.0 == "postgres" }) else {
            for (k, kn, _) in f where ["password_env", "password_file", "tls", "instance_id"].contains(k) {
                fail(kn, "storage.\(k) goes with storage.postgres")
            }
            return nil
        }
        if f.contains(where: { $0.0 == "sqlite" }) {
            fail(owner, "storage: give sqlite or postgres, not both")
        }
        guard let url = string(un, "storage.postgres") else { return nil }
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"),
            let rest = url.split(separator: "://", maxSplits: 1).last
        else {
            fail(un, "storage.postgres must be postgres://USER@HOST:PORT/DB")
            return nil
        }
        let authority = rest.split(separator: "/", maxSplits: 1).first ?? ""
        if let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") {
            fail(un, "storage.postgres: a password is never written in the URL; use password_env or password_file")
            return nil
        }
        var s = PostgresSettings(url: url)
        if f.contains(where: { $0.0 == "password_env" || $0.0 == "password_file" }) {
            s.password = secret(f, "password", "storage", owner: owner)
        }
        for (k, kn, v) in f {
            if k == "instance_id" { s.instanceID = string(v, "storage.instance_id") }
            if k == "tls" {
                guard let tf = map(v, "storage.tls", allowed: ["ca_file"]) else { continue }
                for (_, _, cv) in tf {
                    guard let path = string(cv, "storage.tls.ca_file") else { continue }
                    if !FileManager.default.isReadableFile(atPath: path) {
                        fail(cv, "storage.tls.ca_file: cannot read \(path)")
                    }
                    s.caFile = path
                }
                _ = kn
            }
        }
        // Several hosts (h1:5432,h2:5432) are tried in turn for the primary: each must be on loopback to go in clear.
        let hosts = (authority.split(separator: "@").last.map(String.init) ?? "").split(
            separator: ",", omittingEmptySubsequences: false)
        if hosts.contains(where: { !TargetURL.isLoopback("postgres://" + $0 + "/") }), s.caFile == nil {
            fail(
                un,
                "storage.postgres off loopback needs tls: {ca_file: …} (the connection is verified, verify-full); "
                    + "addresses and phone numbers must not cross a network in clear text")
        }
        return s
    }

    func targetNames(_ n: Node?) -> [TargetName] {
        n?.mapping?.compactMap { $0.key.scalar.map { TargetName(rawValue: $0.string) } } ?? []
    }
}
