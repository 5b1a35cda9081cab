import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilRuntime

struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "The server's URL.") var server = "http://127.0.0.1:8080"

    func client() throws -> VigilClient {
        guard let token = ClientToken.find(server: server) else {
            throw ValidationError(
                "set VIGIL_TOKEN to a bearer token (on the machine that runs the default setup, run vigil from the "
                    + "directory that holds var/operator.token)")
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
        commandName: "session", abstract: "Start, list, show and end sessions, and give out a check-in link.",
        subcommands: [Start.self, List.self, Show.self, End.self, Link.self, Update.self, Reveal.self, Timeline.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a monitored session.")
        @OptionGroup var options: WriteOptions
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
            try await Call.write(options, "POST", "/v1/sessions", body: .object(body))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sessions.")
        @OptionGroup var options: ClientOptions
        @Option(help: "open, all, or a state.") var state = "open"
        @Flag(help: "Print JSON (as --output json).") var json = false
        @Option(name: .long, help: "How to print the answer: json or table.") var output: OutputFormat = .table

        func run() async throws {
            let json = json || output == .json
            let r = try await options.client().send("GET", "/v1/sessions?state=\(state.urlPathSafe)")
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
        @Option(name: .long, help: "How to print the answer: json (the default here) or table.")
        var output: OutputFormat = .json

        func run() async throws {
            let r = try await options.client().send("GET", "/v1/sessions/\(id.urlPathSafe)")
            try show(r, json: output == .json)
            if output == .table, let body = r.1 { Table.print(body, as: .table) }
        }
    }

    struct Link: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the person's check-in link (recorded on the timeline as link.viewed).")
        @OptionGroup var options: WriteOptions
        @Argument(help: "Session id.") var id: String

        func run() async throws {
            let r = try await Call.write(
                options, "POST", "/v1/sessions/\(id.urlPathSafe)/check-in-link", body: [:], printing: false)
            print(r?["check_in_url"]?.stringValue ?? "")
        }
    }

    struct End: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a session.")
        @OptionGroup var options: WriteOptions
        @Argument(help: "Session id.") var id: String
        @Option(help: "safe, ems_attended, false_alarm, caller_left or other.") var outcome: String
        @Option(help: "A note for the timeline.") var note: String?

        func run() async throws {
            var body: [String: JSONValue] = ["outcome": .string(outcome)]
            if let note { body["note"] = .string(note) }
            try await Call.write(options, "POST", "/v1/sessions/\(id.urlPathSafe)/end", body: .object(body))
        }
    }
}
