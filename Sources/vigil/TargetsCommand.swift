import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilRuntime

struct TargetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "targets", abstract: "Work with webhook targets.", subcommands: [Test.self])

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a signed test.ping to a target and show the answer.")
        @Option(name: .long, help: "The YAML configuration file.") var config: String
        @Argument(help: "The target's name.") var name: String

        func run() async throws {
            do {
                let (ok, report) = try await VigilClient.testTarget(configPath: config, name: name)
                print(report)
                if !ok { throw ExitCode(1) }
            } catch let e as ConfigErrors {
                for issue in e.issues { print("\(config):\(issue.line.map(String.init) ?? "-"): \(issue.message)") }
                throw ExitCode(2)
            } catch let e as VigilError {
                print("vigil: \(e.message)")
                throw ExitCode(1)
            }
        }
    }
}
