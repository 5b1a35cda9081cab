import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilRuntime

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage the key that seals personal data at rest.", subcommands: [Rotate.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Re-seal every stored blob under a new key (refused while an instance serves it; start it again after)."
        )
        @Option(help: "The configuration file (default: the built-in one, data under ./var/).") var config: String?

        func run() async throws {
            try await reportingErrors {
                let cfg = try config.map { try ConfigLoader.load(path: $0) } ?? ConfigLoader.builtIn()
                print(try await KeyRotation.run(config: cfg))
            }
        }
    }
}
