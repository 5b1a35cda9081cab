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
        // As ArgumentParser's own `main`, except that a server that cannot be reached exits with status 3 (a refusal
        // by the server is 1, a usage error what ArgumentParser reports): scripts tell "retry later" from "no".
        do {
            var command = try await VigilCommand.asyncParseAsRoot(arguments())
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let e as ServerUnreachable {
            FileHandle.standardError.write(Data("vigil: \(e)\n".utf8))
            exit(3)
        } catch {
            VigilCommand.exit(withError: error)
        }
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
        version: VigilVersion.string,
        subcommands: [
            Serve.self, ConfigCommand.self, SessionCommand.self, CheckIn.self, Acknowledge.self, DispatchNow.self,
            TargetsCommand.self, KeysCommand.self, MigrateCommand.self, BackupCommand.self, RestoreCommand.self,
            PlansCommand.self, FollowUpsCommand.self, ReportsCommand.self,
            DispatchStatusCommand.self, MassLapseCommand.self, EventsCommand.self, HistoryCommand.self,
            StatsCommand.self, OperatorsCommand.self, StatusCommand.self, MetricsCommand.self, DoctorCommand.self,
            AuditCommand.self,
        ])
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

extension String {
    /// The string with anything but unreserved characters percent-encoded, for a path segment.
    var urlPathSafe: String {
        addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? self
    }
}
