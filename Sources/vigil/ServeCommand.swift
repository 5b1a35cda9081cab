import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilRuntime

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service.")

    @Option(name: .long, help: "The YAML configuration file. Without one: 127.0.0.1:8080, SQLite under ./var/.")
    var config: String?

    func run() async throws {
        let cfg: VigilConfig
        do {
            cfg = try config.map { try ConfigLoader.load(path: $0) } ?? ConfigLoader.builtIn()
        } catch {
            FileHandle.standardError.write(Data("vigil: configuration error\n\(error)\n".utf8))
            throw ExitCode(2)
        }
        let level = Logger.Level(rawValue: ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? cfg.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "vigil")
        do {
            try await VigilServer.run(
                config: cfg, assetsDirectory: ProcessInfo.processInfo.environment["VIGIL_ASSETS_DIR"], logger: logger)
        } catch let e as VigilError {
            FileHandle.standardError.write(Data("vigil: cannot start: \(e.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}
