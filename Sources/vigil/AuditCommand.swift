import ArgumentParser
import Foundation
import VigilCore
import VigilRuntime

/// `vigil audit`: the tamper-evident event log (docs/contract.md, "A tamper-evident log").
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Read the chained event log's head, export the log, verify it.",
        subcommands: [Head.self, Export.self, Verify.self])

    struct Head: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the log's last link {seq, hash, at} (supervisor and up), to write down elsewhere.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try show(try await options.client().send("GET", "/v1/audit/head"))
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the events as JSON lines {seq, type, at, session_id, data, data_sha256, hash}.")
        @Option(help: "The configuration file of the installation.") var config: String
        @Option(help: "The first seq to write.") var from: Int64?
        @Option(help: "The last seq to write.") var to: Int64?

        func run() async throws {
            try await reportingErrors {
                let cfg = try ConfigLoader.load(path: config)
                let out = FileHandle.standardOutput
                _ = try await AuditTool.export(config: cfg, from: from, to: to) { line in
                    out.write(Data((line + "\n").utf8))
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every link and every event's data digest, from an export or over the store.",
            discussion: """
                Exits 0 printing the count, the purged count and the head, or 1 naming the first seq that does \
                not follow.
                """)
        @Argument(help: "An export's JSON lines (or give --config to verify the store).") var file: String?
        @Option(help: "The configuration file: verify its store, or take the retention period from it.")
        var config: String?
        @Option(
            name: .customLong("retention-days"),
            help: "The retention period of a file (default: 30, or the configuration's).")
        var retentionDays: Int?
        @Flag(help: "The file may start after seq 1 (an export made with --from); its first link is taken as given.")
        var partial = false

        func validate() throws {
            if file == nil && config == nil { throw ValidationError("give an export FILE or --config FILE") }
            if let d = retentionDays, !(1...3650).contains(d) {
                throw ValidationError("--retention-days must be 1 to 3650")
            }
        }

        func run() async throws {
            try await reportingErrors {
                let cfg = try config.map { try ConfigLoader.load(path: $0) }
                let now = Timestamp(millis: Int64(Date().timeIntervalSince1970 * 1000))
                let outcome: AuditVerifier.Outcome
                if let file {
                    outcome = try AuditTool.verify(
                        file: file, retentionDays: retentionDays ?? cfg?.retentionDays ?? 30, partial: partial,
                        now: now)
                } else if let cfg {
                    var c = cfg
                    if let retentionDays { c.retentionDays = retentionDays }
                    outcome = try await AuditTool.verify(config: c, now: now)
                } else {
                    throw VigilError.invalid("give an export FILE or --config FILE")
                }
                let (text, ok) = AuditTool.report(outcome)
                print(text)
                if !ok { throw ExitCode(1) }
            }
        }
    }
}
