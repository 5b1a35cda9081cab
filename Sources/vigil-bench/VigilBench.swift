import ArgumentParser
import Foundation

/// `vigil-bench`: figures for the README, printed, never asserted. `ops/loadtest/run.sh` runs them all.
@main
struct VigilBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil-bench",
        abstract: "Load and latency figures for Vigil (and for Alertmanager, run through the same generator).",
        discussion: "The bearer token for Vigil is read from VIGIL_TOKEN.",
        subcommands: [
            SchedulerCommand.self, PopulateCommand.self, CheckInsCommand.self, LapseStormCommand.self,
            ReceiverCommand.self, SeedCommand.self, DecideCommand.self, AuditVerifyCommand.self,
        ])
}

/// Which service the generator drives.
enum Peer: String, ExpressibleByArgument, CaseIterable {
    case vigil
    case alertmanager
}

struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler", abstract: "One heap + one Dispatch timer vs one DispatchSourceTimer per session.")
    @Option(help: "Sizes, comma-separated.") var sessions = "10000,100000,1000000"
    @Option(help: "Designs, comma-separated: heap, per-session.") var design = "heap,per-session"
    @Option(name: .customLong("spread-ms"), help: "Deadlines spread over this many milliseconds.")
    var spreadMillis: Int64 = 2000

    func run() async throws {
        SchedulerBench.run(
            sizes: sessions.split(separator: ",").compactMap { Int($0) },
            designs: design.split(separator: ",").map(String.init), spreadMillis: spreadMillis)
    }
}

struct PopulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "populate",
        abstract: "Starts sessions over HTTP (Vigil) or posts silenced alerts (Alertmanager); writes their ids.")
    @Option var server = "http://127.0.0.1:8080"
    @Option var peer = Peer.vigil
    @Option(help: "How many.") var count = 100_000
    @Option(help: "Check-in interval in seconds.") var interval = 86_400
    @Option(help: "Grace in seconds.") var grace = 30
    @Option var policy = "default"
    @Option var concurrency = 64
    @Option(help: "Starts per second (paced); unlimited when absent.") var rate: Double?
    @Option(help: "Write the ids here, one per line.") var out: String?

    func validate() throws {
        guard count >= 0, interval >= 1, grace >= 0, concurrency >= 1 else {
            throw ValidationError("count ≥ 0, interval ≥ 1, grace ≥ 0 and concurrency ≥ 1")
        }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number") }
    }

    func run() async throws {
        let ids = await HTTPBench.populate(
            server: server, peer: peer, token: token(), count: count, interval: interval, grace: grace,
            policy: policy, concurrency: concurrency, rate: rate)
        if let out { try ids.joined(separator: "\n").write(toFile: out, atomically: true, encoding: .utf8) }
    }
}

struct CheckInsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkins",
        abstract: "Check-ins (Vigil) or alert re-posts (Alertmanager) against random ids, per concurrency level.")
    @Option var server = "http://127.0.0.1:8080"
    @Option var peer = Peer.vigil
    @Option(help: "The ids file that populate wrote.") var ids = "ids.txt"
    @Option(help: "Client counts, comma-separated.") var concurrency = "16,32,64"
    @Option var seconds = 10.0
    @Option(help: "Requests per second offered (paced); as fast as possible when absent.") var rate: Double?

    func validate() throws {
        guard seconds > 0, seconds.isFinite else { throw ValidationError("--seconds must be positive") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number") }
    }

    func run() async throws {
        let list = try String(contentsOfFile: ids, encoding: .utf8).split(separator: "\n").map(String.init)
        guard !list.isEmpty else { throw ValidationError("\(ids) holds no ids") }
        for c in concurrency.split(separator: ",").compactMap({ Int($0) }) where c > 0 {
            await HTTPBench.checkIns(
                server: server, peer: peer, token: token(), ids: list, concurrency: c, seconds: seconds, rate: rate)
        }
    }
}

struct LapseStormCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lapse-storm",
        abstract: "COUNT sessions lapsing across SPREAD seconds; waits for the receiver to see them all.",
        discussion: """
            Vigil: starts COUNT sessions paced over SPREAD seconds with the given interval and grace, so that their
            deadlines pass in the same order and at the same pace; nobody checks in. Alertmanager: posts one alert per
            lapse at the moment it would lapse, paced the same way (Alertmanager keeps no timers of its own).
            The receiver measures each arrival against the lapse's moment.
            """)
    @Option var server = "http://127.0.0.1:8080"
    @Option var peer = Peer.vigil
    @Option var receiver = "http://127.0.0.1:18099"
    @Option var count = 10_000
    @Option(help: "Seconds across which the lapses fall.") var spread = 8.0
    @Option var interval = 20
    @Option var grace = 5
    @Option var policy = "lapse"
    @Option var concurrency = 64
    @Option(help: "Give up waiting this many seconds after the last lapse.") var wait = 60.0

    func validate() throws {
        guard count >= 1, spread > 0, spread.isFinite, interval >= 1, grace >= 0, concurrency >= 1, wait >= 0 else {
            throw ValidationError("count ≥ 1, spread > 0, interval ≥ 1, grace ≥ 0, concurrency ≥ 1, wait ≥ 0")
        }
    }

    func run() async throws {
        try await HTTPBench.lapseStorm(
            server: server, peer: peer, receiver: receiver, token: token(), count: count, spread: spread,
            interval: interval, grace: grace, policy: policy, concurrency: concurrency, wait: wait)
    }
}

struct ReceiverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receiver",
        abstract: "Webhook receiver: /hook for Vigil's dispatches, /am for Alertmanager's; GET /stats, POST /reset.")
    @Option var port = 9099
    func run() async throws { try await HTTPBench.receiver(port: port) }
}

struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed", abstract: "Writes open sessions straight into DIR/vigil.sqlite.")
    @Option(name: .customLong("data")) var dataDirectory = "var"
    @Option var count = 1_000_000
    @Option var interval: Int64 = 86_400

    func validate() throws {
        guard count >= 0, interval >= 1 else { throw ValidationError("count ≥ 0 and interval ≥ 1") }
    }

    func run() async throws { try await Seed.run(dataDirectory: dataDirectory, count: count, interval: interval) }
}

private func token() -> String { ProcessInfo.processInfo.environment["VIGIL_TOKEN"] ?? "" }
