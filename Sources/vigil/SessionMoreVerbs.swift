import ArgumentParser
import Foundation
import VigilCore
import VigilRuntime

extension SessionCommand {
    /// `PATCH /v1/sessions/{id}`.
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a session: the location, the caller, the interval, notes, or its route.")
        @OptionGroup var options: WriteOptions
        @Argument(help: "Session id.") var id: String
        @Option(help: "The person's alias.") var alias: String?
        @Option(name: .customLong("callback-number"), help: "A number to call back.") var callbackNumber: String?
        @Option(help: "Street address.") var address: String?
        @Option(help: "Unit or apartment.") var unit: String?
        @Option(help: "City.") var city: String?
        @Option(help: "Region or state.") var region: String?
        @Option(name: .customLong("postal-code"), help: "Postal code.") var postalCode: String?
        @Option(help: "Country.") var country: String?
        @Option(help: "Latitude.") var latitude: Double?
        @Option(help: "Longitude.") var longitude: Double?
        @Option(name: .customLong("access-notes"), help: "How to get in.") var accessNotes: String?
        @Option(help: "Seconds between check-ins.") var interval: Int?
        @Option(help: "Seconds of grace after a missed check-in.") var grace: Int?
        @Option(help: "Internal notes for operators.") var notes: String?
        @Option(help: "What the person said they are using.") var substance: String?
        @Option(help: "Pin the session's dispatch route to this target.") var route: String?
        @Flag(name: .customLong("unpin-route"), help: "Let the location decide the route again.") var unpinRoute = false

        func validate() throws {
            if route != nil && unpinRoute { throw ValidationError("give --route or --unpin-route, not both") }
        }

        func run() async throws {
            var body: [String: JSONValue] = [:]
            var location: [String: JSONValue] = [:]
            for (k, v) in [
                ("address", address), ("unit", unit), ("city", city), ("region", region), ("postal_code", postalCode),
                ("country", country), ("access_notes", accessNotes),
            ] {
                if let v { location[k] = .string(v) }
            }
            if let latitude { location["latitude"] = .double(latitude) }
            if let longitude { location["longitude"] = .double(longitude) }
            if !location.isEmpty { body["location"] = .object(location) }
            var caller: [String: JSONValue] = [:]
            if let alias { caller["alias"] = .string(alias) }
            if let callbackNumber { caller["callback_number"] = .string(callbackNumber) }
            if !caller.isEmpty { body["caller"] = .object(caller) }
            if let interval { body["check_in_interval_s"] = .int(Int64(interval)) }
            if let grace { body["grace_s"] = .int(Int64(grace)) }
            if let notes { body["notes"] = .string(notes) }
            if let substance { body["substance"] = .string(substance) }
            if let route { body["route"] = ["target": .string(route)] }
            if unpinRoute { body["route"] = .null }
            guard !body.isEmpty else { throw ValidationError("give at least one thing to change") }
            try await Call.write(options, "PATCH", "/v1/sessions/\(id.urlPathSafe)", body: .object(body))
        }
    }

    /// `POST /v1/sessions/{id}/location/reveal`.
    struct Reveal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a session's location and callback number before an alarm (recorded as location.viewed).")
        @OptionGroup var options: WriteOptions
        @Argument(help: "Session id.") var id: String

        func run() async throws {
            try await Call.write(options, "POST", "/v1/sessions/\(id.urlPathSafe)/location/reveal")
        }
    }

    /// `GET /v1/sessions/{id}/timeline`.
    struct Timeline: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a session's timeline (json, table or csv).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Session id.") var id: String
        @Option(name: .long, help: "json, table or csv.") var output: String = "table"

        func validate() throws {
            guard ["json", "table", "csv"].contains(output) else {
                throw ValidationError("--output: json, table or csv")
            }
        }

        func run() async throws {
            let format = output == "csv" ? "csv" : "json"
            let r = try await options.client().perform(
                "GET", "/v1/sessions/\(id.urlPathSafe)/timeline?format=\(format)",
                accept: format == "csv" ? "text/csv" : "application/json")
            guard r.status != 0 else { throw ServerUnreachable(server: options.server, reason: r.error ?? "no answer") }
            let body = try? VigilJSON.decode(JSONValue.self, from: r.body)
            try Call.refuseOnError(r.status, body)
            if format == "csv" {
                FileHandle.standardOutput.write(Data(r.body))
            } else if let body {
                Table.print(
                    body, as: output == "json" ? .json : .table, list: "events", columns: ["seq", "at", "type"])
            }
        }
    }
}

/// `POST /v1/sessions/{id}/dispatch-status`.
struct DispatchStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch-status",
        abstract: "Report what a dispatch centre did with a dispatch (dispatch tokens, or an admin naming --target).")
    @OptionGroup var options: WriteOptions
    @Argument(help: "Session id.") var id: String
    @Option(help: "accepted, rejected, en_route, on_scene or closed.") var status: String
    @Option(help: "The centre's own reference for the incident.") var reference: String?
    @Option(help: "The dispatch target this report is for (an admin token must name it).") var target: String?
    @Option(help: "A note for the timeline.") var note: String?

    func run() async throws {
        var body: [String: JSONValue] = ["status": .string(status)]
        if let reference { body["reference"] = .string(reference) }
        if let target { body["target"] = .string(target) }
        if let note { body["note"] = .string(note) }
        try await Call.write(options, "POST", "/v1/sessions/\(id.urlPathSafe)/dispatch-status", body: .object(body))
    }
}

/// `POST /v1/system/mass-lapse/release`.
struct MassLapseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mass-lapse", abstract: "Act on a mass lapse.", subcommands: [Release.self])

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Release every mass-lapse hold (supervisor and up): the held dispatch steps fire at once.")
        @OptionGroup var options: WriteOptions
        @Option(help: "A note for the timeline.") var note: String?

        func run() async throws {
            var body: [String: JSONValue] = [:]
            if let note { body["note"] = .string(note) }
            try await Call.write(options, "POST", "/v1/system/mass-lapse/release", body: .object(body))
        }
    }
}
