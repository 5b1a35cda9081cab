import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilRuntime

struct CheckIn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-in", abstract: "Record that the person is OK.")
    @OptionGroup var options: WriteOptions
    @Argument(help: "Session id.") var id: String
    @Option(help: "A note for the timeline.") var note: String?

    func run() async throws {
        var body: [String: JSONValue] = ["source": "operator"]
        if let note { body["note"] = .string(note) }
        try await Call.write(options, "POST", "/v1/sessions/\(id.urlPathSafe)/check-ins", body: .object(body))
    }
}

struct Acknowledge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Own an escalation: pause automatic steps for the policy's ack_timeout_s.")
    @OptionGroup var options: WriteOptions
    @Argument(help: "Session id.") var id: String
    @Option(help: "A note for the timeline.") var note: String?

    func run() async throws {
        var body: [String: JSONValue] = [:]
        if let note { body["note"] = .string(note) }
        try await Call.write(options, "POST", "/v1/sessions/\(id.urlPathSafe)/acknowledge", body: .object(body))
    }
}

struct DispatchNow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch", abstract: "Dispatch now, without waiting for the ladder.")
    @OptionGroup var options: WriteOptions
    @Argument(help: "Session id.") var id: String
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func run() async throws {
        let client = try options.client.client()
        if !yes {
            var (status, s) = try await client.send("GET", "/v1/sessions/\(id.urlPathSafe)")
            try show((status, s), json: false)
            if s?["location"]?["redacted"] == .bool(true) {
                // Not in alarm yet: the address is read through the recorded reveal, as the console does.
                (status, s) = try await client.send("POST", "/v1/sessions/\(id.urlPathSafe)/location/reveal", body: [:])
                try show((status, s), json: false)
            }
            let address = s?["location"]?["address"]?.stringValue ?? "?"
            print("Dispatch emergency services to \(address)? Type yes to confirm: ", terminator: "")
            guard readLine()?.lowercased() == "yes" else {
                print("Not dispatched.")
                throw ExitCode(1)
            }
        }
        try await Call.write(options, "POST", "/v1/sessions/\(id.urlPathSafe)/dispatch", body: [:])
    }
}
