import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilRuntime

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy a SQLite installation into an empty PostgreSQL database (refused while an instance serves it).")
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
                "migrated \(r.sessions) sessions, \(r.events) events, \(r.notifications) notifications and \(r.plans) "
                    + "response plans; start the "
                    + "instances with storage.postgres and the same encryption key")
        }
    }
}
