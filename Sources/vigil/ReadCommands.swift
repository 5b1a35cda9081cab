import ArgumentParser
import Foundation
import VigilCore
import VigilRuntime

/// `PUT`, `GET` and `DELETE /v1/plans/{name}`.
struct PlansCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plans", abstract: "Save, show and delete response plans (the friends asked before EMS).",
        subcommands: [Show.self, Save.self, Delete.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a saved plan.")
        @OptionGroup var options: ReadOptions
        @Argument(help: "The plan's name (the caller's alias).") var name: String

        func run() async throws {
            try await Call.read(
                options, "/v1/plans/\(name.urlPathSafe)", list: "responders", columns: ["name", "phone", "relation"])
        }
    }

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Save a plan: its responders, in the order asked.")
        @OptionGroup var options: WriteOptions
        @Argument(help: "The plan's name (the caller's alias).") var name: String
        @Option(
            name: .customLong("responder"),
            help: "NAME,PHONE[,RELATION] (repeat, in order; at most 5).")
        var responders: [String] = []

        func run() async throws {
            var list: [JSONValue] = []
            for r in responders {
                let parts = r.split(separator: ",", maxSplits: 2).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count >= 2 else { throw ValidationError("--responder takes NAME,PHONE[,RELATION]") }
                var o: [String: JSONValue] = ["name": .string(parts[0]), "phone": .string(parts[1])]
                if parts.count == 3 { o["relation"] = .string(parts[2]) }
                list.append(.object(o))
            }
            guard !list.isEmpty else { throw ValidationError("give at least one --responder") }
            try await Call.write(options, "PUT", "/v1/plans/\(name.urlPathSafe)", body: ["responders": .array(list)])
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a saved plan.")
        @OptionGroup var options: WriteOptions
        @Argument(help: "The plan's name.") var name: String

        func run() async throws {
            try await Call.write(options, "DELETE", "/v1/plans/\(name.urlPathSafe)", body: nil)
            print("deleted")
        }
    }
}

/// `GET /v1/follow-ups` and `POST /v1/follow-ups/{id}/close`.
struct FollowUpsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow-ups", abstract: "List and close follow-ups.", subcommands: [List.self, Close.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List follow-ups.")
        @OptionGroup var options: ReadOptions
        @Option(help: "open or closed (default: both).") var state: String?

        func run() async throws {
            try await Call.read(
                options, "/v1/follow-ups" + Call.query([("state", state)]), list: "follow_ups",
                columns: ["id", "session_id", "state", "due_at", "outcome"])
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a follow-up with what came of it.")
        @OptionGroup var options: WriteOptions
        @Argument(help: "Follow-up id.") var id: String
        @Option(help: "What came of the call back.") var outcome: String
        @Flag(name: .customLong("naloxone-used"), inversion: .prefixedNo, help: "Whether naloxone was used.")
        var naloxoneUsed: Bool?
        @Option(help: "A note.") var note: String?
        @Option(name: .customLong("referral"), help: "A resource referred to (repeat).") var referrals: [String] = []

        func run() async throws {
            var body: [String: JSONValue] = ["outcome": .string(outcome)]
            if let naloxoneUsed { body["naloxone_used"] = .bool(naloxoneUsed) }
            if let note { body["note"] = .string(note) }
            if !referrals.isEmpty { body["referrals"] = .array(referrals.map { .string($0) }) }
            try await Call.write(options, "POST", "/v1/follow-ups/\(id.urlPathSafe)/close", body: .object(body))
        }
    }
}

/// `GET /v1/reports/…`.
struct ReportsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reports", abstract: "Counts a hotline can publish, and its service levels.",
        subcommands: [Summary.self, SLO.self])

    struct Summary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sessions, lapses, dispatches and outcomes.")
        @OptionGroup var options: ReadOptions
        @Option(help: "From this date or time (2026-11-01).") var from: String?
        @Option(help: "Until this date or time.") var to: String?

        func run() async throws {
            try await Call.read(options, "/v1/reports/summary" + Call.query([("from", from), ("to", to)]))
        }
    }

    struct SLO: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "slo", abstract: "Deadline to notification, to dispatch, and dispatch to acceptance.")
        @OptionGroup var options: ReadOptions
        @Option(help: "From this date or time.") var from: String?
        @Option(help: "Until this date or time.") var to: String?

        func run() async throws {
            try await Call.read(options, "/v1/reports/slo" + Call.query([("from", from), ("to", to)]))
        }
    }
}

/// `GET /v1/history`.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "List ended sessions.")
    @OptionGroup var options: ReadOptions
    @Option(help: "How many (1 to 500).") var limit: Int?
    @Option(help: "How many to skip.") var offset: Int?

    func run() async throws {
        try await Call.read(
            options,
            "/v1/history" + Call.query([("limit", limit.map(String.init)), ("offset", offset.map(String.init))]),
            list: "sessions")
    }
}

/// `GET /v1/stats`.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Sessions, lapses and deliveries per hour (the console's dashboard).")
    @OptionGroup var options: ReadOptions
    @Option(help: "Hours back (1 to 168).") var hours: Int?

    func run() async throws {
        try await Call.read(options, "/v1/stats" + Call.query([("hours", hours.map(String.init))]))
    }
}

/// `GET /v1/operators/connected`.
struct OperatorsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operators", abstract: "Who has a console (an event stream) connected now.")
    @OptionGroup var options: ReadOptions

    func run() async throws {
        try await Call.read(
            options, "/v1/operators/connected", list: "operators",
            columns: ["name", "role", "streams", "connected_since"])
    }
}

/// `GET /readyz` (and `/healthz`): no token needed.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Whether the server is ready, each check, and its configuration's SHA-256 (exit 1 when not ready).")
    @Option(name: .long, help: "The server's URL.") var server = "http://127.0.0.1:8080"
    @Option(name: .long, help: "json or table.") var output: OutputFormat = .table

    func run() async throws {
        let (status, body) = try await VigilClient(server: server, token: nil).send("GET", "/readyz")
        if let body { Table.print(body, as: output) }
        if status >= 400 { throw ExitCode(1) }
    }
}

/// `GET /metrics`.
struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "Print the Prometheus metrics (a supervisor, admin or metrics token).")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let r = try await options.client().perform("GET", "/metrics", accept: "text/plain")
        guard r.status != 0 else { throw ServerUnreachable(server: options.server, reason: r.error ?? "no answer") }
        try Call.refuseOnError(r.status, try? VigilJSON.decode(JSONValue.self, from: r.body))
        FileHandle.standardOutput.write(Data(r.body))
    }
}
