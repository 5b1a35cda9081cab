import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilRuntime

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with configuration files.", subcommands: [Check.self, Reload.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a configuration file.")
        @Argument(help: "The file to check.") var file: String

        func run() async throws {
            do {
                let c = try ConfigLoader.load(path: file)
                print(
                    "\(file): OK (\(c.tokens.count) tokens, \(c.targets.count) targets, \(c.policies.count) policies)")
                for warning in c.warnings { print("\(file): warning: \(warning)") }
                for (name, target) in c.targets.sorted(by: { $0.key < $1.key }) {
                    func list(_ s: Set<SessionField>) -> String { s.sorted().map(\.rawValue).joined(separator: ", ") }
                    if let f = target.fields {
                        print("target \(name): every webhook carries \(list(f)) (and the session id)")
                    } else {
                        print(
                            "target \(name): dispatch.* carries \(list(WebhookFields.dispatchDefault)); "
                                + "responder.requested \(list(WebhookFields.responderDefault)); "
                                + "every other webhook \(list(WebhookFields.otherDefault)) (and the session id)")
                    }
                }
            } catch let e as ConfigErrors {
                for issue in e.issues { print("\(file):\(issue.line.map(String.init) ?? "-"): \(issue.message)") }
                throw ExitCode(1)
            }
        }
    }
}
