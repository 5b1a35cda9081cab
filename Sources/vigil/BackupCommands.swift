import ArgumentParser
import Foundation
import VigilRuntime

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the SQLite database (online, while the service runs) and its key into a new directory.")
    @Option(help: "The configuration file (default: the built-in one, data under ./var/).") var config: String?
    @Option(help: "A new or empty directory for the backup.") var to: String

    func run() async throws {
        try await reportingErrors {
            let cfg = try config.map { try ConfigLoader.load(path: $0) } ?? ConfigLoader.builtIn()
            print(try Backup.run(config: cfg, to: to))
        }
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put a backup in place of the configured database and key (refused while an instance serves it).")
    @Option(help: "The configuration file (default: the built-in one, data under ./var/).") var config: String?
    @Option(help: "The directory `vigil backup` wrote.") var from: String
    @Flag(help: "Replace a database or key that is already there.") var force = false

    func run() async throws {
        try await reportingErrors {
            let cfg = try config.map { try ConfigLoader.load(path: $0) } ?? ConfigLoader.builtIn()
            print(try Backup.restore(config: cfg, from: from, force: force))
        }
    }
}
