import ArgumentParser
import Foundation
import VigilCore
import VigilRuntime

#if canImport(Glibc)
    import Glibc
#endif

extension ConfigCommand {
    /// `POST /v1/system/reload`, or `SIGHUP` to a process on this machine.
    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a running server read its configuration file again (each instance reads its own).",
            discussion: """
                Without --pid, asks the server (POST /v1/system/reload, an admin token) and prints the new file's \
                SHA-256, or the first error when the file is refused (exit 1; the running configuration stays). \
                With --pid, sends SIGHUP to that process instead, as `systemctl reload vigil` does: the outcome is \
                in its log (config.reloaded or config.reload_failed).
                """)
        @OptionGroup var options: WriteOptions
        @Option(help: "Send SIGHUP to this process instead of calling the server.") var pid: Int32?

        func run() async throws {
            if let pid {
                guard pid > 1 else { throw ValidationError("--pid must name a vigil serve process") }
                guard kill(pid, SIGHUP) == 0 else {
                    FileHandle.standardError.write(Data("vigil: cannot signal process \(pid): errno \(errno)\n".utf8))
                    throw ExitCode(1)
                }
                print("sent SIGHUP to \(pid); its log says whether the file was reloaded or refused")
                return
            }
            try await Call.write(options, "POST", "/v1/system/reload", body: [:])
        }
    }
}
