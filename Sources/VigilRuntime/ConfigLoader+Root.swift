import Foundation
import VigilCore
import VigilDelivery
import VigilHTTP
import Yams

/// The top level of the file: each key to its part of `VigilConfig`, and the checks across parts.
extension ConfigLoader.Parser {
    mutating func root(_ root: Node) -> VigilConfig {
        var c = VigilConfig()
        let top: Set<String> = [
            "listen", "public_url", "storage", "encryption", "auth", "targets", "policies", "scheduler",
            "heartbeat", "retention", "watchdog", "log_level", "alarm_targets", "hotline",
            "unattended_after_s", "routes", "follow_up", "mass_lapse", "sms",
            "default_country", "canary", "texts", "resources", "slo",
        ]
        guard let fields = map(root, "the configuration", allowed: top) else { return c }
        var policyNodes: Node?
        var targetsNode: Node?
        var alarmTargetsNode: Node?
        var massLapseNode: Node?
        var smsNode: Node?
        var routesNode: Node?
        var followUpAfter: Millis?
        var canaryNode: Node?
        for (key, _, v) in fields {
            switch key {
            case "listen":
                if let s = string(v, "listen") {
                    if let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]),
                        (0...65535).contains(port), colon != s.startIndex
                    {
                        c.host = String(s[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                        c.port = port
                    } else {
                        fail(
                            v,
                            "listen must be HOST:PORT, e.g. \"127.0.0.1:8080\" (port 0: any free port, printed at start)"
                        )
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
                guard
                    let f = map(
                        v, "encryption", allowed: ["key_file", "key_env", "previous_key_file", "previous_key_env"])
                else { break }
                previousKey(f, &c)
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
                c.configuredAlarmTargets = seq.compactMap { $0.scalar.map { TargetName(rawValue: $0.string) } }
                alarmTargetsNode = v
            case "hotline":
                c.hotline = hotline(v)
                if let l = v.mapping?["language"], let language = hotlineLanguage(l) { c.person.language = language }
            case "texts":
                c.person.texts = TextCatalog(overrides: texts(v))
            case "resources":
                c.person.resources = resources(v)
            case "targets":
                targetsNode = v
            case "policies":
                policyNodes = v
            case "mass_lapse":
                massLapseNode = v
            case "canary":
                canaryNode = v
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
            case "default_country":
                if let s = string(v, "default_country") {
                    if let country = PhoneNumber.Country(rawValue: s.uppercased()) {
                        c.defaultCountry = country
                    } else {
                        fail(
                            v,
                            "default_country must be US or CA (the North American numbering plan); numbers of "
                                + "any other country must be given with + and their country code")
                    }
                }
            case "unattended_after_s":
                if let d = duration(v, "unattended_after_s", min: 0, max: 86_400) { c.unattendedAfter = d }
            case "slo":
                serviceLevels(v, &c)
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
        c.person.hotlineNumber = c.hotline.callbackNumber
        if let targetsNode { c.targets = targets(targetsNode) }
        // Every name under targets:, also of a target refused above: a reference to it is not a second error.
        let names = Set(targetNames(targetsNode))
        refuseEIDOOutsideDispatch(c, targetsNode: targetsNode, policiesNode: policyNodes)
        if let policyNodes {
            c.policies = policies(policyNodes, targets: names)
            if c.policies["default"] == nil && issues.isEmpty {
                fail(policyNodes, "policies must include one named \"default\" (used when a session names none)")
            }
        }
        checkResponderLinks(&c, root)
        if let massLapseNode { massLapse(massLapseNode, &c, targets: names) }
        checkTexts(&c, root: root, targetsNode: targetsNode, policiesNode: policyNodes)
        if let canaryNode { c.canary = canary(canaryNode, targets: names) }
        if let smsNode { c.sms = sms(smsNode, publicURL: c.publicURL) }
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
        if c.postgres == nil, c.previousKeyFile != nil || c.previousKeyEnv != nil, issues.isEmpty {
            fail(
                root,
                "encryption.previous_key_file and previous_key_env are for a rotation on PostgreSQL; on SQLite, "
                    + "vigil keys rotate keeps the previous key beside the key file")
        }
        for name in c.configuredAlarmTargets ?? [] where !names.contains(name) {
            fail(alarmTargetsNode, "alarm_targets: \(name) is not a configured target")
        }
        for (name, target, node) in dispatchTokenTargets where !names.contains(target) {
            fail(node, "token \(name): target \(target) is not a configured target")
        }
        return c
    }
}
