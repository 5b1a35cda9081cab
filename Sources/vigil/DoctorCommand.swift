import ArgumentParser
import Foundation
import VigilRuntime

/// `vigil doctor`: a configuration and its surroundings, and what to fix.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check a configuration and its surroundings and print what to fix (exit 1 on any problem).",
        discussion: """
            Checks the file as `vigil config check` does, then the key file's and the database's modes, each \
            target's TLS and answer to a signed test.ping (as `vigil targets test`), the clock's synchronization, \
            the free disk where the data lives, and the database (reachable; PostgreSQL's clock within half a \
            second of this machine's).
            """)
    @Option(name: .long, help: "The configuration file.") var config: String
    @Flag(name: .customLong("no-ping"), help: "Do not send the targets a test.ping.") var noPing = false
    @Option(name: .customLong("min-free-mib"), help: "Less free disk than this is a problem.") var minFreeMiB = 1024

    func run() async throws {
        let findings = await Doctor.run(
            configPath: config, ping: !noPing, minFreeBytes: UInt64(max(0, minFreeMiB)) << 20)
        for f in findings { print("\(f.problem ? "FIX" : "ok ")  \(f.check): \(f.detail)") }
        let problems = findings.filter(\.problem).count
        print(problems == 0 ? "no problem found" : "\(problems) problem\(problems == 1 ? "" : "s") to fix")
        if problems > 0 { throw ExitCode(1) }
    }
}
