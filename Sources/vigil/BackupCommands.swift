import ArgumentParser
import Foundation
import VigilRuntime

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract:
            "Copy the SQLite database (online, while the service runs) into a new directory, its key into another.")
    @Option(help: "The configuration file (default: the built-in one, data under ./var/).") var config: String?
    @Option(help: "A new or empty directory for the backup.") var to: String
    @Option(
        name: .customLong("key-to"),
        help: "A new or empty directory, outside the backup, for the key (kept apart from the data it protects).")
    var keyTo: String?

    func run() async throws {
        try await reportingErrors {
            let cfg = try config.map { try ConfigLoader.load(path: $0) } ?? ConfigLoader.builtIn()
            print(try Backup.run(config: cfg, to: to, keyTo: keyTo))
        }
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put a backup in place of the configured database and key (refused while an instance serves it).")
    @Option(help: "The configuration file (default: the built-in one, data under ./var/).") var config: String?
    @Option(help: "The directory `vigil backup` wrote.") var from: String
    @Option(name: .customLong("key-from"), help: "The directory `vigil backup --key-to` wrote the key into.")
    var keyFrom: String?
    @Flag(help: "Replace a database or key that is already there.") var force = false

    func run() async throws {
        try await reportingErrors {
            let cfg = try config.map { try ConfigLoader.load(path: $0) } ?? ConfigLoader.builtIn()
            print(try Backup.restore(config: cfg, from: from, keyFrom: keyFrom, force: force))
        }
    }
}
