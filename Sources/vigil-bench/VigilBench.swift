import Foundation

/// `vigil-bench`: figures for the README, printed, never asserted.
@main
struct VigilBench {
    static func main() async throws {
        var args = Array(CommandLine.arguments.dropFirst())
        guard let mode = args.first else {
            say(usage)
            return
        }
        args.removeFirst()
        func option(_ name: String, _ def: String) -> String {
            if let i = args.firstIndex(of: "--\(name)"), i + 1 < args.count { return args[i + 1] }
            return def
        }
        let env = ProcessInfo.processInfo.environment
        let server = option("server", "http://127.0.0.1:8080")
        let token = env["VIGIL_TOKEN"] ?? ""
        switch mode {
        case "scheduler":
            let sizes = option("sessions", "10000,100000,1000000").split(separator: ",").compactMap { Int($0) }
            let designs = option("design", "heap,per-session").split(separator: ",").map(String.init)
            SchedulerBench.run(sizes: sizes, designs: designs, spreadMillis: Int64(option("spread-ms", "2000")) ?? 2000)
        case "populate":
            let ids = await HTTPBench.populate(
                server: server, token: token, count: Int(option("count", "100000"))!,
                interval: Int(option("interval", "86400"))!, grace: Int(option("grace", "30"))!,
                policy: option("policy", "default"), concurrency: Int(option("concurrency", "64"))!)
            let out = option("out", "")
            if !out.isEmpty { try ids.joined(separator: "\n").write(toFile: out, atomically: true, encoding: .utf8) }
        case "checkins":
            let ids = try String(contentsOfFile: option("ids", "ids.txt"), encoding: .utf8).split(separator: "\n").map(
                String.init)
            for c in option("concurrency", "16,32,64").split(separator: ",").compactMap({ Int($0) }) {
                await HTTPBench.checkIns(
                    server: server, token: token, ids: ids, concurrency: c, seconds: Double(option("seconds", "10"))!,
                    rate: Double(option("rate", "")))
            }
        case "seed":
            try await Seed.run(
                dataDirectory: option("data", "var"), count: Int(option("count", "1000000"))!,
                interval: Int64(option("interval", "86400"))!)
        case "receiver":
            try await HTTPBench.receiver(port: Int(option("port", "9099"))!)
        default:
            say(usage)
        }
    }

    static let usage = """
        usage: vigil-bench scheduler [--sessions 10000,100000,1000000] [--design heap,per-session] [--spread-ms 2000]
               vigil-bench populate --server URL --count N --interval S --grace S --policy P [--out ids.txt]
               vigil-bench checkins --server URL --ids ids.txt [--concurrency 16,32,64] [--seconds 10] [--rate R]
               vigil-bench receiver --port 9099
               vigil-bench seed --data DIR --count N      (writes open sessions straight into DIR/vigil.sqlite)
        (VIGIL_TOKEN holds the bearer token; ops/loadtest/run.sh runs them all)
        """
}
