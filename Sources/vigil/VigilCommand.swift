import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilRuntime

@main
enum Entry {
    static func main() async {
        // Every file Vigil creates (the key, the operator token, the database) is its owner's alone, from the
        // first byte: no window in which another user could read it.
        umask(0o077)
        await VigilCommand.main(arguments())
    }

    /// The command-line arguments. Some LD_PRELOAD shims hide argv from the Swift runtime; /proc/self/cmdline still
    /// has it.
    static func arguments() -> [String] {
        if CommandLine.arguments.count > 1 { return Array(CommandLine.arguments.dropFirst()) }
        guard let data = FileManager.default.contents(atPath: "/proc/self/cmdline") else { return [] }
        let parts = data.split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        return Array(parts.dropFirst().filter { !$0.isEmpty })
    }
}

struct VigilCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Vigil: check-in monitoring for people who use alone.",
        subcommands: [
            Serve.self, ConfigCommand.self, SessionCommand.self, CheckIn.self, Acknowledge.self, DispatchNow.self,
            TargetsCommand.self, KeysCommand.self, MigrateCommand.self, BackupCommand.self, RestoreCommand.self,
        ])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service.")

    @Option(name: .long, help: "The YAML configuration file. Without one: 127.0.0.1:8080, SQLite under ./var/.")
    var config: String?

    func run() async throws {
        let cfg: VigilConfig
        do {
            cfg = try config.map { try ConfigLoader.load(path: $0) } ?? ConfigLoader.builtIn()
        } catch {
            FileHandle.standardError.write(Data("vigil: configuration error\n\(error)\n".utf8))
            throw ExitCode(2)
        }
        let level = Logger.Level(rawValue: ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? cfg.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "vigil")
        do {
            try await VigilServer.run(
                config: cfg, assetsDirectory: ProcessInfo.processInfo.environment["VIGIL_ASSETS_DIR"], logger: logger)
        } catch let e as VigilError {
            FileHandle.standardError.write(Data("vigil: cannot start: \(e.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy a SQLite installation into an empty PostgreSQL database (stop the service first).")
    @Option(help: "The SQLite database.") var from: String = "var/vigil.sqlite"
    @Option(help: "postgres://USER@HOST:PORT/DB (no password in it).") var to: String
    @Option(name: .customLong("password-env"), help: "The environment variable holding the database password.")
    var passwordEnv: String?
    @Option(name: .customLong("password-file"), help: "A file holding the database password.") var passwordFile: String?
    @Option(name: .customLong("ca-file"), help: "The CA that signed the database's certificate (off loopback).")
    var caFile: String?
    @Option(name: .customLong("key-file"), help: "The source's key file (default: vigil.key beside the database).")
    var keyFile: String?
    @Option(name: .customLong("key-env"), help: "The environment variable holding the key instead.") var keyEnv: String?

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        var password: String?
        if let passwordEnv { password = env[passwordEnv] }
        if let passwordFile {
            password = (try? String(contentsOfFile: passwordFile, encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines)
        }
        let settings = PostgresSettings(url: to, password: password, caFile: caFile, instanceID: nil)
        try await reportingErrors {
            let r = try await Migration.run(
                from: from, to: settings, keyEnv: keyEnv, keyFile: keyFile, progress: { print("migrate: \($0)") })
            print(
                "migrated \(r.sessions) sessions, \(r.events) events and \(r.notifications) notifications; start the "
                    + "instances with storage.postgres and the same encryption key")
        }
    }
}

/// Runs `body`; a `VigilError` is said in one line on standard error and the command exits with status 1.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let e as VigilError {
        FileHandle.standardError.write(Data("vigil: \(e.message)\n".utf8))
        throw ExitCode(1)
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage the key that seals personal data at rest.", subcommands: [Rotate.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal every stored blob under a new key (stop the service first; start it again after).")
        @Option(help: "The configuration file (default: the built-in one, data under ./var/).") var config: String?

        func run() async throws {
            try await reportingErrors {
                let cfg = try config.map { try ConfigLoader.load(path: $0) } ?? ConfigLoader.builtIn()
                print(try await KeyRotation.run(config: cfg))
            }
        }
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with configuration files.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a configuration file.")
        @Argument(help: "The file to check.") var file: String

        func run() async throws {
            do {
                let c = try ConfigLoader.load(path: file)
                print(
                    "\(file): OK (\(c.tokens.count) tokens, \(c.targets.count) targets, \(c.policies.count) policies)")
                for warning in c.warnings { print("\(file): warning: \(warning)") }
                for (name, target) in c.targets.sorted(by: { $0.key < $1.key }) {
                    func list(_ s: Set<SessionField>) -> String { s.sorted().map(\.rawValue).joined(separator: ", ") }
                    if let f = target.fields {
                        print("target \(name): every webhook carries \(list(f)) (and the session id)")
                    } else {
                        print(
                            "target \(name): dispatch.* carries \(list(WebhookFields.dispatchDefault)); "
                                + "responder.requested \(list(WebhookFields.responderDefault)); "
                                + "every other webhook \(list(WebhookFields.otherDefault)) (and the session id)")
                    }
                }
            } catch let e as ConfigErrors {
                for issue in e.issues { print("\(file):\(issue.line.map(String.init) ?? "-"): \(issue.message)") }
                throw ExitCode(1)
            }
        }
    }
}

struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "The server's URL.") var server = "http://127.0.0.1:8080"

    func client() throws -> VigilClient {
        guard let token = ProcessInfo.processInfo.environment["VIGIL_TOKEN"], !token.isEmpty else {
            throw ValidationError("set VIGIL_TOKEN to a bearer token")
        }
        return VigilClient(server: server, token: token)
    }
}

/// Prints a response, or its error, and fails on an error status.
func show(_ response: (Int, JSONValue?), json: Bool = true) throws {
    let (status, body) = response
    if status >= 400 {
        let message = body?["error"]?["message"]?.stringValue ?? "HTTP \(status)"
        FileHandle.standardError.write(Data("vigil: \(message) (HTTP \(status))\n".utf8))
        throw ExitCode(1)
    }
    if json, let body { print(pretty(body)) }
}

func pretty(_ v: JSONValue) -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return (try? e.encode(v)).map { String(decoding: $0, as: UTF8.self) } ?? ""
}

struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "Start, list, show and end sessions.",
        subcommands: [Start.self, List.self, Show.self, End.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a monitored session.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Street address (required).") var address: String
        @Option(help: "Seconds between check-ins (required).") var interval: Int
        @Option(help: "Seconds of grace after a missed check-in.") var grace: Int?
        @Option(help: "Escalation policy.") var policy: String?
        @Option(help: "The person's alias.") var alias: String?
        @Option(name: .customLong("callback-number"), help: "A number to call back.") var callbackNumber: String?
        @Option(help: "Unit or apartment.") var unit: String?
        @Option(help: "City.") var city: String?
        @Option(help: "Region or state.") var region: String?
        @Option(name: .customLong("postal-code"), help: "Postal code.") var postalCode: String?
        @Option(help: "Country.") var country: String?
        @Option(help: "Latitude.") var latitude: Double?
        @Option(help: "Longitude.") var longitude: Double?
        @Option(name: .customLong("access-notes"), help: "How to get in.") var accessNotes: String?
        @Option(help: "Internal notes for operators (never sent to dispatch targets).") var notes: String?
        @Option(help: "What the person said they are using (sent to dispatch targets).") var substance: String?

        func run() async throws {
            var location: [String: JSONValue] = ["address": .string(address)]
            for (k, v) in [
                ("unit", unit), ("city", city), ("region", region), ("postal_code", postalCode),
                ("country", country), ("access_notes", accessNotes),
            ] {
                if let v { location[k] = .string(v) }
            }
            if let latitude { location["latitude"] = .double(latitude) }
            if let longitude { location["longitude"] = .double(longitude) }
            var body: [String: JSONValue] = [
                "location": .object(location), "check_in_interval_s": .int(Int64(interval)),
            ]
            if let grace { body["grace_s"] = .int(Int64(grace)) }
            if let policy { body["policy"] = .string(policy) }
            if let notes { body["notes"] = .string(notes) }
            if let substance { body["substance"] = .string(substance) }
            var caller: [String: JSONValue] = [:]
            if let alias { caller["alias"] = .string(alias) }
            if let callbackNumber { caller["callback_number"] = .string(callbackNumber) }
            if !caller.isEmpty { body["caller"] = .object(caller) }
            try show(try await options.client().send("POST", "/v1/sessions", body: .object(body)))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sessions.")
        @OptionGroup var options: ClientOptions
        @Option(help: "open, all, or a state.") var state = "open"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let r = try await options.client().send("GET", "/v1/sessions?state=\(state)")
            try show(r, json: json)
            guard !json, case .array(let sessions)? = r.1?["sessions"] else { return }
            print("ID                              STATE       ALIAS         NEXT CHECK-IN DUE")
            for s in sessions {
                let id = s["id"]?.stringValue ?? ""
                let st = s["state"]?.stringValue ?? ""
                let alias = s["caller"]?["alias"]?.stringValue ?? "-"
                let due = s["next_check_in_due_at"]?.stringValue ?? "-"
                print(
                    id.padding(toLength: 32, withPad: " ", startingAt: 0)
                        + st.padding(toLength: 12, withPad: " ", startingAt: 0)
                        + alias.padding(toLength: 14, withPad: " ", startingAt: 0) + due)
            }
            if sessions.isEmpty { print("(no sessions)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a session and its timeline.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Session id.") var id: String

        func run() async throws { try show(try await options.client().send("GET", "/v1/sessions/\(id.urlPathSafe)")) }
    }

    struct End: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a session.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Session id.") var id: String
        @Option(help: "safe, ems_attended, false_alarm, caller_left or other.") var outcome: String
        @Option(help: "A note for the timeline.") var note: String?

        func run() async throws {
            var body: [String: JSONValue] = ["outcome": .string(outcome)]
            if let note { body["note"] = .string(note) }
            try show(try await options.client().send("POST", "/v1/sessions/\(id.urlPathSafe)/end", body: .object(body)))
        }
    }
}

struct CheckIn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-in", abstract: "Record that the person is OK.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Session id.") var id: String
    @Option(help: "A note for the timeline.") var note: String?

    func run() async throws {
        var body: [String: JSONValue] = ["source": "operator"]
        if let note { body["note"] = .string(note) }
        try show(
            try await options.client().send("POST", "/v1/sessions/\(id.urlPathSafe)/check-ins", body: .object(body)))
    }
}

struct Acknowledge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Own an escalation: pause automatic steps for the policy's ack_timeout_s.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Session id.") var id: String
    @Option(help: "A note for the timeline.") var note: String?

    func run() async throws {
        var body: [String: JSONValue] = [:]
        if let note { body["note"] = .string(note) }
        try show(
            try await options.client().send("POST", "/v1/sessions/\(id.urlPathSafe)/acknowledge", body: .object(body)))
    }
}

struct DispatchNow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch", abstract: "Dispatch now, without waiting for the ladder.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Session id.") var id: String
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func run() async throws {
        let client = try options.client()
        if !yes {
            let (status, s) = try await client.send("GET", "/v1/sessions/\(id.urlPathSafe)")
            try show((status, s), json: false)
            let address = s?["location"]?["address"]?.stringValue ?? "?"
            print("Dispatch emergency services to \(address)? Type yes to confirm: ", terminator: "")
            guard readLine()?.lowercased() == "yes" else {
                print("Not dispatched.")
                throw ExitCode(1)
            }
        }
        try show(try await client.send("POST", "/v1/sessions/\(id.urlPathSafe)/dispatch", body: [:]))
    }
}

struct TargetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "targets", abstract: "Work with webhook targets.", subcommands: [Test.self])

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a signed test.ping to a target and show the answer.")
        @Option(name: .long, help: "The YAML configuration file.") var config: String
        @Argument(help: "The target's name.") var name: String

        func run() async throws {
            do {
                let (ok, report) = try await VigilClient.testTarget(configPath: config, name: name)
                print(report)
                if !ok { throw ExitCode(1) }
            } catch let e as ConfigErrors {
                for issue in e.issues { print("\(config):\(issue.line.map(String.init) ?? "-"): \(issue.message)") }
                throw ExitCode(2)
            } catch let e as VigilError {
                print("vigil: \(e.message)")
                throw ExitCode(1)
            }
        }
    }
}

extension String {
    /// The string with anything but unreserved characters percent-encoded, for a path segment.
    var urlPathSafe: String {
        addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? self
    }
}
