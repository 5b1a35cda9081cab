import Foundation
import VigilCore
import VigilDelivery
import VigilHTTP
import Yams

/// One problem in a configuration file, with the line it is on.
public struct ConfigIssue: Error, Sendable, CustomStringConvertible {
    /// 1-based line, or nil when the problem is the file as a whole.
    public var line: Int?
    /// What is wrong.
    public var message: String

    public var description: String { line.map { "line \($0): \(message)" } ?? message }
}

/// Every configuration problem found, each with its line.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    /// The problems.
    public var issues: [ConfigIssue]
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// The service's configuration, with secrets resolved.
public struct VigilConfig: Sendable {
    /// Address to listen on.
    public var host = "127.0.0.1"
    /// Port to listen on.
    public var port = 8080
    /// Base of absolute check-in links.
    public var publicURL: String?
    /// The SQLite file.
    public var sqlitePath = "var/vigil.sqlite"
    /// PostgreSQL instead of SQLite: any number of instances share it.
    public var postgres: PostgresSettings?
    /// The encryption key's file (created when missing); or
    public var keyFile: String?
    /// the environment variable holding the key in base64.
    public var keyEnv: String?
    /// Bearer tokens.
    public var tokens: [TokenEntry] = []
    /// Webhook targets.
    public var targets: [String: Target] = [:]
    /// Escalation policies.
    public var policies: [String: Policy] = ["default": .consoleOnly]
    /// How often the safety sweep re-reads due deadlines.
    public var sweepInterval = Millis.seconds(1)
    /// External dead-man's switch.
    public var heartbeatURL: String?
    /// How often to ping it.
    public var heartbeatInterval = Millis.seconds(30)
    /// Days to keep personal data of ended sessions.
    public var retentionDays = 30
    /// Watchdog: a deadline this late without firing is an alarm.
    public var watchdogDeadlineSlack = Millis.seconds(2)
    /// Watchdog: a due notification waiting this long is an alarm.
    public var watchdogOutboxSlack = Millis.seconds(10)
    /// Log level.
    public var logLevel = "info"
    /// Whether this is the built-in default (no file).
    public var isDefault = false
    /// The generated operator token of the default configuration.
    public var generatedToken: String?
    /// Things that are allowed but unsafe, said loudly at start and by `config check`.
    public var warnings: [String] = []

    /// `hotline:`: who dispatchers see as the sender, and whom they call back.
    public var hotline = Hotline()
    /// `routes:`; nil when routing is off.
    public var routes: RouteTable?

    /// `alarm_targets:` as configured.
    public var configuredAlarmTargets: [String]?
    /// `mass_lapse:` (on by default: 10 sessions within 60 s).
    public var massLapse = MassLapseSettings()
    /// `mass_lapse.notify`; nil: the alarm targets.
    public var massLapseNotify: [String]?
    /// `sms:`: check-ins by text.
    public var sms: SMSSettings?
    /// `unattended_after_s`: sessions open this long with no operator console connected raise `system.unattended`;
    /// zero is off.
    public var unattendedAfter = Millis.seconds(120)

    /// The targets told of system alarms (the watchdog, the database away): `alarm_targets`, or, when it is not
    /// set, every policy's `on_delivery_failure`.
    public var alarmTargets: [String] {
        configuredAlarmTargets ?? Array(Set(policies.values.flatMap(\.onDeliveryFailure))).sorted()
    }

    /// Creates the defaults.
    public init() {}
}

/// `storage: {postgres: …}`: the database several instances share.
public struct PostgresSettings: Sendable {
    /// `postgres://USER@HOST:PORT/DB` (no password in it).
    public var url: String
    /// The password, from `password_env` or `password_file`.
    public var password: String?
    /// A CA bundle to verify the server (verify-full); required off loopback.
    public var caFile: String?
    /// This instance's stable name (default: the host name and the listen port).
    public var instanceID: String?

    /// Creates settings.
    public init(url: String, password: String? = nil, caFile: String? = nil, instanceID: String? = nil) {
        self.url = url
        self.password = password
        self.caFile = caFile
        self.instanceID = instanceID
    }
}

/// Reads the YAML configuration and names each error with its line.
public enum ConfigLoader {
    /// Loads and validates a file; `environment` resolves `*_env` names.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> VigilConfig
    {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigErrors(issues: [ConfigIssue(line: nil, message: "cannot read \(path)")])
        }
        return try parse(
            String(decoding: data, as: UTF8.self), environment: environment,
            baseDirectory: (path as NSString).deletingLastPathComponent)
    }

    /// The built-in configuration: 127.0.0.1:8080, SQLite under `./var/`, one operator token kept in
    /// `var/operator.token` and printed at start, and a policy that alerts the console only.
    public static func builtIn(dataDirectory: String = "var") throws -> VigilConfig {
        var c = VigilConfig()
        c.isDefault = true
        c.sqlitePath = dataDirectory + "/vigil.sqlite"
        let tokenPath = dataDirectory + "/operator.token"
        try FileManager.default.createDirectory(
            atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var token = (try? String(contentsOfFile: tokenPath, encoding: .utf8))?.trimmingCharacters(
            in: .whitespacesAndNewlines)
        if token?.isEmpty ?? true {
            let t = IDGenerator.system.make("vgl_", chars: 40)
            _ = FileManager.default.createFile(
                atPath: tokenPath, contents: Data((t + "\n").utf8), attributes: [.posixPermissions: 0o600])
            token = t
        }
        c.tokens = [TokenEntry(name: "operator", role: .operator, token: token!)]
        c.generatedToken = token
        return c
    }

    /// Parses YAML text.
    public static func parse(_ text: String, environment: [String: String], baseDirectory: String?) throws
        -> VigilConfig
    {
        let root: Node
        do {
            guard let n = try Yams.compose(yaml: text) else {
                throw ConfigErrors(issues: [ConfigIssue(line: nil, message: "the file is empty")])
            }
            root = n
        } catch let e as ConfigErrors {
            throw e
        } catch {
            throw ConfigErrors(issues: [ConfigIssue(line: nil, message: "not valid YAML: \(error)")])
        }
        var p = Parser(env: environment)
        p.baseDirectory = baseDirectory.flatMap { $0.isEmpty ? nil : $0 }
        var config = p.root(root)
        config.warnings = p.warnings
        if !p.issues.isEmpty { throw ConfigErrors(issues: p.issues.sorted { ($0.line ?? 0) < ($1.line ?? 0) }) }
        return config
    }

    struct Parser {
        let env: [String: String]
        var issues: [ConfigIssue] = []
        var warnings: [String] = []
        var dispatchTokenTargets: [(String, String, Node)] = []
        /// Where relative paths in the file (polygon files) start.
        var baseDirectory: String?

        init(env: [String: String]) { self.env = env }

        mutating func fail(_ n: Node?, _ m: String) { issues.append(ConfigIssue(line: n?.mark?.line, message: m)) }

        mutating func map(_ n: Node, _ place: String, allowed: Set<String>) -> [(String, Node, Node)]? {
            guard let m = n.mapping else {
                fail(n, "\(place) must be a mapping")
                return nil
            }
            var out: [(String, Node, Node)] = []
            for (k, v) in m {
                guard let key = k.scalar?.string else {
                    fail(k, "\(place) has a key that is not text")
                    continue
                }
                if !allowed.isEmpty && !allowed.contains(key) {
                    fail(
                        k,
                        "unknown key \"\(key)\" in \(place) (expected one of: \(allowed.sorted().joined(separator: ", ")))"
                    )
                    continue
                }
                out.append((key, k, v))
            }
            return out
        }

        mutating func string(_ n: Node, _ place: String) -> String? {
            guard let s = n.scalar?.string, n.scalar?.style != nil || true else {
                fail(n, "\(place) must be text")
                return nil
            }
            return s
        }

        mutating func duration(_ n: Node, _ place: String, min: Double = 0, max: Double = 86_400 * 7) -> Millis? {
            guard let s = n.scalar?.string, let d = Double(s), d.isFinite else {
                fail(n, "\(place) must be a number of seconds (decimals allowed)")
                return nil
            }
            guard d >= min, d <= max else {
                fail(n, "\(place) must be between \(min) and \(max) seconds")
                return nil
            }
            return .seconds(decimal: d)
        }

        mutating func int(_ n: Node, _ place: String, range: ClosedRange<Int>) -> Int? {
            guard let s = n.scalar?.string, let i = Int(s), range.contains(i) else {
                fail(n, "\(place) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            return i
        }

        mutating func names(_ n: Node, _ place: String) -> [String] {
            guard let seq = n.sequence else {
                fail(n, "\(place) must be a list of target names")
                return []
            }
            return seq.compactMap { x in
                guard let s = x.scalar?.string, !s.isEmpty else {
                    fail(x, "\(place) must list target names")
                    return nil
                }
                return s
            }
        }

        /// Resolves `<name>_env` or `<name>_file`; the secret itself may not appear in the file.
        mutating func secret(_ fields: [(String, Node, Node)], _ name: String, _ place: String, owner: Node) -> String?
        {
            if let (_, k, _) = fields.first(where: { $0.0 == name }) {
                fail(k, "\(place).\(name): secrets are never written in the file; use \(name)_env or \(name)_file")
                return nil
            }
            let envField = fields.first { $0.0 == name + "_env" }
            let fileField = fields.first { $0.0 == name + "_file" }
            if envField != nil && fileField != nil {
                fail(owner, "\(place): give \(name)_env or \(name)_file, not both")
                return nil
            }
            if let (_, _, v) = envField {
                guard let varName = v.scalar?.string else {
                    fail(v, "\(place).\(name)_env must name an environment variable")
                    return nil
                }
                guard let value = env[varName], !value.isEmpty else {
                    fail(v, "\(place).\(name)_env: the environment variable \(varName) is not set")
                    return nil
                }
                return value
            }
            if let (_, _, v) = fileField {
                guard let path = v.scalar?.string else {
                    fail(v, "\(place).\(name)_file must be a path")
                    return nil
                }
                guard let data = FileManager.default.contents(atPath: path) else {
                    fail(v, "\(place).\(name)_file: cannot read \(path)")
                    return nil
                }
                return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            fail(owner, "\(place) needs \(name)_env or \(name)_file")
            return nil
        }

        mutating func root(_ root: Node) -> VigilConfig {
            var c = VigilConfig()
            let top: Set<String> = [
                "listen", "public_url", "storage", "encryption", "auth", "targets", "policies", "scheduler",
                "heartbeat", "retention", "watchdog", "log_level", "alarm_targets", "hotline",
                "unattended_after_s", "routes", "follow_up", "mass_lapse", "sms",
            ]
            guard let fields = map(root, "the configuration", allowed: top) else { return c }
            var policyNodes: Node?
            var targetsNode: Node?
            var alarmTargetsNode: Node?
            var massLapseNode: Node?
            var smsNode: Node?
            var routesNode: Node?
            var followUpAfter: Millis?
            for (key, _, v) in fields {
                switch key {
                case "listen":
                    if let s = string(v, "listen") {
                        if let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]),
                            (1...65535).contains(port), colon != s.startIndex
                        {
                            c.host = String(s[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                            c.port = port
                        } else {
                            fail(v, "listen must be HOST:PORT, e.g. \"127.0.0.1:8080\"")
                        }
                    }
                case "public_url":
                    if let s = string(v, "public_url") {
                        if s.hasPrefix("http://") || s.hasPrefix("https://") {
                            c.publicURL = s
                        } else {
                            fail(v, "public_url must start with http:// or https://")
                        }
                    }
                case "storage":
                    guard
                        let f = map(
                            v, "storage",
                            allowed: ["sqlite", "postgres", "password_env", "password_file", "tls", "instance_id"])
                    else { break }
                    c.postgres = postgresSettings(f, owner: v)
                    for (k, _, sv) in f where k == "sqlite" {
                        if let s = string(sv, "storage.sqlite"), !s.isEmpty { c.sqlitePath = s }
                    }
                case "encryption":
                    guard let f = map(v, "encryption", allowed: ["key_file", "key_env"]) else { break }
                    for (k, _, sv) in f {
                        if k == "key_file" { c.keyFile = string(sv, "encryption.key_file") }
                        if k == "key_env" {
                            c.keyEnv = string(sv, "encryption.key_env")
                            if let name = c.keyEnv, env[name] == nil {
                                fail(sv, "encryption.key_env: the environment variable \(name) is not set")
                            }
                        }
                    }
                case "auth":
                    guard let f = map(v, "auth", allowed: ["tokens"]) else { break }
                    for (_, _, tv) in f { c.tokens = tokens(tv) }
                case "alarm_targets":
                    guard let seq = v.sequence else {
                        fail(v, "alarm_targets must be a list of target names")
                        break
                    }
                    c.configuredAlarmTargets = seq.compactMap { $0.scalar?.string }
                    alarmTargetsNode = v
                case "hotline":
                    c.hotline = hotline(v)
                case "targets":
                    targetsNode = v
                case "policies":
                    policyNodes = v
                case "mass_lapse":
                    massLapseNode = v
                case "sms":
                    smsNode = v
                case "routes":
                    routesNode = v
                case "follow_up":
                    followUpAfter = followUp(v)
                case "scheduler":
                    guard let f = map(v, "scheduler", allowed: ["sweep_interval_s"]) else { break }
                    for (_, _, sv) in f {
                        if let d = duration(sv, "scheduler.sweep_interval_s", min: 0.1, max: 60) { c.sweepInterval = d }
                    }
                case "heartbeat":
                    guard let f = map(v, "heartbeat", allowed: ["url", "interval_s"]) else { break }
                    for (k, _, sv) in f {
                        if k == "url" { c.heartbeatURL = string(sv, "heartbeat.url") }
                        if k == "interval_s", let d = duration(sv, "heartbeat.interval_s", min: 1, max: 3600) {
                            c.heartbeatInterval = d
                        }
                    }
                case "retention":
                    guard let f = map(v, "retention", allowed: ["ended_session_days"]) else { break }
                    for (_, _, sv) in f {
                        if let d = int(sv, "retention.ended_session_days", range: 1...3650) { c.retentionDays = d }
                    }
                case "watchdog":
                    guard let f = map(v, "watchdog", allowed: ["deadline_slack_s", "outbox_slack_s"]) else { break }
                    for (k, _, sv) in f {
                        if k == "deadline_slack_s",
                            let d = duration(sv, "watchdog.deadline_slack_s", min: 0.5, max: 600)
                        {
                            c.watchdogDeadlineSlack = d
                        }
                        if k == "outbox_slack_s", let d = duration(sv, "watchdog.outbox_slack_s", min: 1, max: 3600) {
                            c.watchdogOutboxSlack = d
                        }
                    }
                case "unattended_after_s":
                    if let d = duration(v, "unattended_after_s", min: 0, max: 86_400) { c.unattendedAfter = d }
                case "log_level":
                    if let s = string(v, "log_level") {
                        if ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(s) {
                            c.logLevel = s
                        } else {
                            fail(v, "log_level must be one of trace, debug, info, notice, warning, error, critical")
                        }
                    }
                default:
                    break
                }
            }
            if let targetsNode { c.targets = targets(targetsNode) }
            refuseEIDOOutsideDispatch(c, targetsNode: targetsNode, policiesNode: policyNodes)
            if let policyNodes {
                c.policies = policies(policyNodes, targets: Set(targetNames(targetsNode)))
                if c.policies["default"] == nil && issues.isEmpty {
                    fail(policyNodes, "policies must include one named \"default\" (used when a session names none)")
                }
            }
            checkResponderLinks(&c, root)
            if let massLapseNode { massLapse(massLapseNode, &c, targets: Set(targetNames(targetsNode))) }
            if let smsNode { c.sms = sms(smsNode, publicURL: c.publicURL) }
            let names = Set(targetNames(targetsNode))
            if let routesNode { c.routes = routes(routesNode, targets: names, baseDirectory: baseDirectory) }
            checkRouteWord(c.policies, hasRoutes: c.routes != nil, targets: names, node: policyNodes ?? targetsNode)
            let loops = loopTimeouts(targetsNode)
            for k in c.policies.keys {
                c.policies[k]?.loops = loops.isEmpty ? nil : loops
                c.policies[k]?.followUpAfter = followUpAfter
            }
            if c.tokens.isEmpty && issues.isEmpty {
                fail(root, "auth.tokens must list at least one token")
            }
            if c.postgres != nil, c.keyEnv == nil, c.keyFile == nil, issues.isEmpty {
                fail(
                    root,
                    "storage.postgres needs encryption: {key_env: …} or {key_file: …}: every instance must be given "
                        + "the same key (it is never generated on PostgreSQL)")
            }
            let known = Set(targetNames(targetsNode))
            for name in c.configuredAlarmTargets ?? [] where !known.contains(name) {
                fail(alarmTargetsNode, "alarm_targets: \(name) is not a configured target")
            }
            for (name, target, node) in dispatchTokenTargets where !known.contains(target) {
                fail(node, "token \(name): target \(target) is not a configured target")
            }
            return c
        }

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
                var target: String?
                var anySession = false
                for (k, kn, v) in f {
                    if k == "target" {
                        guard role == .dispatch else {
                            fail(kn, "token \(name): target is for tokens of the dispatch role")
                            continue
                        }
                        target = v.scalar?.string
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
            let host = authority.split(separator: "@").last.map(String.init) ?? ""
            if !TargetURL.isLoopback("postgres://" + host + "/"), s.caFile == nil {
                fail(
                    un,
                    "storage.postgres off loopback needs tls: {ca_file: …} (the connection is verified, verify-full); "
                        + "addresses and phone numbers must not cross a network in clear text")
            }
            return s
        }

        func targetNames(_ n: Node?) -> [String] {
            n?.mapping?.compactMap { $0.key.scalar?.string } ?? []
        }

        mutating func targets(_ n: Node) -> [String: Target] {
            guard let f = map(n, "targets", allowed: []) else { return [:] }
            var out: [String: Target] = [:]
            for (name, _, v) in f {
                let place = "target \(name)"
                guard
                    let tf = map(
                        v, place,
                        allowed: [
                            "url", "format", "secret", "secret_env", "secret_file", "timeout_s", "retry", "tls",
                            "proxy", "insecure_http", "fields", "accept_timeout_s", "arrival_timeout_s",
                        ])
                else { continue }
                var url: String?
                var urlNode: Node?
                var proxy: String?
                var insecureHTTP = false
                var fields: Set<SessionField>?
                var format = PayloadFormat.json
                var timeout = Millis.seconds(10)
                var retry = RetrySettings()
                var tls: TLSFiles?
                for (k, _, tv) in tf {
                    switch k {
                    case "url":
                        if let s = string(tv, "\(place).url") {
                            if s.hasPrefix("https://") || s.hasPrefix("http://") {
                                url = s
                                urlNode = tv
                            } else {
                                fail(tv, "\(place).url must start with https:// (or http:// for a local receiver)")
                            }
                        }
                    case "proxy":
                        if let s = string(tv, "\(place).proxy") {
                            if s.hasPrefix("http://") || s.hasPrefix("https://") || s.hasPrefix("socks5h://") {
                                proxy = s
                            } else {
                                fail(tv, "\(place).proxy must start with http://, https:// or socks5h://")
                            }
                        }
                    case "fields":
                        guard let seq = tv.sequence else {
                            fail(tv, "\(place).fields must be a list, e.g. [alias, location]")
                            break
                        }
                        var set = Set<SessionField>()
                        for item in seq {
                            if let name = item.scalar?.string, let f = WebhookFields.field(named: name) {
                                set.insert(f)
                            } else {
                                let known = SessionField.allCases.map(\.rawValue).joined(separator: ", ")
                                fail(
                                    item,
                                    "\(place).fields: unknown field \"\(item.scalar?.string ?? "?")\" (known: \(known))"
                                )
                            }
                        }
                        fields = set
                    case "insecure_http":
                        if let b = tv.scalar?.string, let v = Bool(b) {
                            insecureHTTP = v
                        } else {
                            fail(tv, "\(place).insecure_http must be true or false")
                        }
                    case "format":
                        if let s = tv.scalar?.string, let fm = PayloadFormat(rawValue: s) {
                            format = fm
                        } else {
                            fail(tv, "\(place).format must be json, cap or eido")
                        }
                    case "timeout_s":
                        if let d = duration(tv, "\(place).timeout_s", min: 0.1, max: 120) { timeout = d }
                    case "retry":
                        guard
                            let rf = map(
                                tv, "\(place).retry", allowed: ["max_attempts", "initial_backoff_s", "max_backoff_s"])
                        else { break }
                        for (rk, _, rv) in rf {
                            if rk == "max_attempts", let i = int(rv, "\(place).retry.max_attempts", range: 1...100) {
                                retry.maxAttempts = i
                            }
                            if rk == "initial_backoff_s",
                                let d = duration(rv, "\(place).retry.initial_backoff_s", min: 0.01, max: 3600)
                            {
                                retry.initialBackoff = d
                            }
                            if rk == "max_backoff_s",
                                let d = duration(rv, "\(place).retry.max_backoff_s", min: 0.01, max: 86400)
                            {
                                retry.maxBackoff = d
                            }
                        }
                        if retry.maxBackoff < retry.initialBackoff {
                            fail(tv, "\(place).retry.max_backoff_s must not be less than initial_backoff_s")
                        }
                    case "tls":
                        guard
                            let lf = map(
                                tv, "\(place).tls", allowed: ["ca_file", "client_cert_file", "client_key_file"])
                        else { break }
                        var t = TLSFiles()
                        for (lk, _, lv) in lf {
                            guard let path = string(lv, "\(place).tls.\(lk)") else { continue }
                            if !FileManager.default.isReadableFile(atPath: path) {
                                fail(lv, "\(place).tls.\(lk): cannot read \(path)")
                            }
                            switch lk {
                            case "ca_file": t.caFile = path
                            case "client_cert_file": t.clientCertFile = path
                            default: t.clientKeyFile = path
                            }
                        }
                        if (t.clientCertFile == nil) != (t.clientKeyFile == nil) {
                            fail(tv, "\(place).tls: client_cert_file and client_key_file go together")
                        }
                        tls = t
                    default:
                        break
                    }
                }
                guard let url else {
                    fail(v, "\(place) needs a url")
                    continue
                }
                // Addresses and phone numbers never cross a network in clear text unless a target says so.
                if url.hasPrefix("http://"), !TargetURL.isLoopback(url), !insecureHTTP {
                    fail(
                        urlNode ?? v,
                        "\(place).url: http:// is allowed only for a loopback receiver; use https:// "
                            + "(or set insecure_http: true on the target, which sends personal data unencrypted)")
                }
                if url.hasPrefix("http://"), !TargetURL.isLoopback(url), insecureHTTP {
                    warnings.append("\(place) sends personal data over unencrypted http:// (insecure_http: true)")
                }
                guard let s = secret(tf, "secret", place, owner: v) else { continue }
                guard let signer = WebhookSigner(secret: s) else {
                    fail(v, "\(place): the secret must be whsec_ followed by base64 of at least 16 bytes")
                    continue
                }
                out[name] = Target(
                    name: name, url: url, format: format, signer: signer, timeout: timeout, retry: retry, tls: tls,
                    proxy: proxy, fields: fields)
            }
            return out
        }

        mutating func policies(_ n: Node, targets: Set<String>) -> [String: Policy] {
            guard let f = map(n, "policies", allowed: []) else { return [:] }
            var out: [String: Policy] = [:]
            for (name, _, v) in f {
                let place = "policy \(name)"
                guard
                    let pf = map(
                        v, place,
                        allowed: Set(["ack_timeout_s", "steps", "on_delivery_failure"]).union(Self.responderPolicyKeys))
                else {
                    continue
                }
                var ack = Millis.seconds(120)
                var steps: [Step] = []
                var onFailure: [String] = []
                var responderSettings = Policy(name: name, ackTimeout: .zero, steps: [])
                for (k, _, pv) in pf {
                    switch k {
                    case "ack_timeout_s":
                        if let d = duration(pv, "\(place).ack_timeout_s", min: 1, max: 3600) { ack = d }
                    case _ where Self.responderPolicyKeys.contains(k):
                        responderPolicy(k, pv, place, into: &responderSettings)
                    case "on_delivery_failure":
                        onFailure = names(pv, "\(place).on_delivery_failure")
                        for t in onFailure where !targets.contains(t) {
                            fail(pv, "\(place).on_delivery_failure names an unknown target \"\(t)\"")
                        }
                    case "steps":
                        guard let seq = pv.sequence else {
                            fail(pv, "\(place).steps must be a list")
                            break
                        }
                        for (i, sn) in seq.enumerated() {
                            let sp = "\(place) step \(i + 1)"
                            guard
                                let sf = map(
                                    sn, sp, allowed: Set(["after_s", "notify", "dispatch"]).union(Self.contactStepKeys))
                            else { continue }
                            if sf.contains(where: { $0.0 == "contact" }) {
                                if let step = contactStep(sf, sn, sp, targets: targets) { steps.append(step) }
                                continue
                            }
                            var after: Millis?
                            var action: Step.Action?
                            for (sk, skn, sv) in sf {
                                switch sk {
                                case "after_s": after = duration(sv, "\(sp).after_s", min: 0, max: 86400)
                                case "notify", "dispatch":
                                    if action != nil {
                                        fail(skn, "\(sp) must either notify or dispatch, not both")
                                        continue
                                    }
                                    let list = names(sv, "\(sp).\(sk)")
                                    if list.isEmpty { fail(sv, "\(sp).\(sk) must name at least one target") }
                                    for t in list where !targets.contains(t) && !(sk == "dispatch" && t == "route") {
                                        fail(sv, "\(sp).\(sk) names an unknown target \"\(t)\"")
                                    }
                                    action = sk == "notify" ? .notify(list) : .dispatch(list)
                                default: break
                                }
                            }
                            guard let action else {
                                fail(sn, "\(sp) needs notify: [targets] or dispatch: [targets]")
                                continue
                            }
                            steps.append(Step(after: after ?? .zero, action: action))
                        }
                    default:
                        break
                    }
                }
                var policy = Policy(name: name, ackTimeout: ack, steps: steps, onDeliveryFailure: onFailure)
                policy.goingPause = responderSettings.goingPause
                policy.responderMessage = responderSettings.responderMessage
                policy.holdDispatchOnMassLapse = responderSettings.holdDispatchOnMassLapse
                out[name] = policy
            }
            return out
        }
    }
}
