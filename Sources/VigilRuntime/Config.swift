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
    /// On PostgreSQL, during a rotation: the file of the key being retired; or
    public var previousKeyFile: String?
    /// the environment variable holding it in base64.
    public var previousKeyEnv: String?
    /// Bearer tokens.
    public var tokens: [TokenEntry] = []
    /// Webhook targets.
    public var targets: [TargetName: Target] = [:]
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
    /// `slo:`: the objectives of `GET /v1/reports/slo`, in milliseconds.
    public var serviceLevelTargets: [ServiceLevel: Millis] = [
        .deadlineToNotify: .seconds(5), .deadlineToDispatch: .seconds(10),
    ]
    /// The generated operator token of the default configuration.
    public var generatedToken: String?
    /// Things that are allowed but unsafe, said loudly at start and by `config check`.
    public var warnings: [String] = []
    /// The file it was read from (nil: the built-in configuration), read again by a reload.
    public var sourceFile: String?
    /// The SHA-256 of that file's bytes, in lower-case hex (`/readyz`, `config.reloaded`).
    public var sha256: String?

    /// `hotline:`: who dispatchers see as the sender, and whom they call back.
    public var hotline = Hotline()
    /// `hotline.language`, `texts:` and `resources:`: what the person and responders read.
    public var person = PersonSettings()
    /// `routes:`; nil when routing is off.
    public var routes: RouteTable?

    /// `alarm_targets:` as configured.
    public var configuredAlarmTargets: [TargetName]?
    /// `mass_lapse:` (on by default: 10 sessions within 60 s).
    public var massLapse = MassLapseSettings()
    /// `mass_lapse.notify`; nil: the alarm targets.
    public var massLapseNotify: [TargetName]?
    /// `sms:`: check-ins by text.
    public var sms: SMSSettings?
    /// `default_country`: the country whose national numbers may be typed without `+` (`US` or `CA`); nil: every
    /// number needs `+` and its country code.
    public var defaultCountry: PhoneNumber.Country?
    /// `unattended_after_s`: sessions open this long with no operator console connected raise `system.unattended`;
    /// zero is off.
    public var unattendedAfter = Millis.seconds(120)
    /// `canary:`: scheduled synthetic sessions through the real path; nil (off) unless set.
    public var canary: CanarySettings?
    /// How often open follow-ups are checked for having fallen due (seconds).
    public var followUpCheckInterval: Int64 = 30

    /// The targets told of system alarms (the watchdog, the database away): `alarm_targets`, or, when it is not
    /// set, every policy's `on_delivery_failure`.
    public var alarmTargets: [TargetName] {
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
