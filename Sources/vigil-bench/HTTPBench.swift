import Foundation
import Hummingbird
import Synchronization
import VigilCore
import VigilDelivery

/// A shared counter.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

/// Load against a running `vigil serve`, over real HTTP through libcurl.
enum HTTPBench {
    static func post(_ client: CurlClient, _ url: String, token: String, body: String) async -> (Int, [UInt8], Double) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = await client.perform(
            HTTPRequestSpec(
                url: url, headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                body: Array(body.utf8), timeoutMillis: 30_000))
        return (r.status, r.body, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }

    /// Starts `count` sessions, `concurrency` at a time; returns their ids.
    static func populate(
        server: String, token: String, count: Int, interval: Int, grace: Int, policy: String, concurrency: Int
    )
        async -> [String]
    {
        let client = CurlClient()
        let next = Counter()
        let t0 = Date()
        let ids = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var mine: [String] = []
                    while next.value.add(1, ordering: .relaxed).oldValue < count {
                        let body =
                            #"{"location":{"address":"1 Bench St"},"check_in_interval_s":\#(interval),"grace_s":\#(grace),"policy":"\#(policy)"}"#
                        let (status, bytes, _) = await post(client, server + "/v1/sessions", token: token, body: body)
                        if status == 201, let v = try? VigilJSON.decode(JSONValue.self, from: bytes),
                            let id = v["id"]?.stringValue
                        {
                            mine.append(id)
                        }
                    }
                    return mine
                }
            }
            var all: [String] = []
            for await m in group { all += m }
            return all
        }
        let secs = Date().timeIntervalSince(t0)
        say(
            String(
                format: "populate: %d sessions (policy %@) in %.1f s, %.0f/s", ids.count, policy, secs,
                Double(ids.count) / secs))
        client.shutdown()
        return ids
    }

    /// Durable check-ins against random sessions with `concurrency` clients for `seconds`.
    static func checkIns(server: String, token: String, ids: [String], concurrency: Int, seconds: Double, rate: Double?)
        async
    {
        let client = CurlClient()
        let deadline = Date().addingTimeInterval(seconds)
        let errors = Counter()
        let interval = rate.map { Double(concurrency) / $0 }
        let t0 = Date()
        let latencies = await withTaskGroup(of: [Double].self) { group in
            for c in 0..<concurrency {
                group.addTask {
                    var mine: [Double] = []
                    var g = SystemRandomNumberGenerator()
                    var nextAt = Date().addingTimeInterval(Double(c) * (interval ?? 0) / Double(concurrency))
                    while Date() < deadline {
                        if let interval {
                            let wait = nextAt.timeIntervalSinceNow
                            if wait > 0 { try? await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
                            nextAt = nextAt.addingTimeInterval(interval)
                        }
                        let id = ids[Int.random(in: 0..<ids.count, using: &g)]
                        let (status, _, ms) = await post(
                            client, server + "/v1/sessions/\(id)/check-ins", token: token, body: #"{"source":"device"}"#
                        )
                        if status == 200 { mine.append(ms) } else { errors.value.add(1, ordering: .relaxed) }
                    }
                    return mine
                }
            }
            var all: [Double] = []
            for await m in group { all += m }
            return all
        }
        let secs = Date().timeIntervalSince(t0)
        let s = Summary(latencies)
        say(
            String(
                format:
                    "check-ins: concurrency %d%@: %.0f durable check-ins/s over %.1f s; latency ms p50 %.2f p99 %.2f max %.2f; errors %d",
                concurrency, rate.map { String(format: " at %.0f/s offered", $0) } ?? "", Double(s.count) / secs, secs,
                s.p50, s.p99, s.max, errors.value.load(ordering: .relaxed)))
        client.shutdown()
    }

    /// A webhook receiver that records how late each dispatch arrived after the missed deadline.
    final class Receiver: Sendable {
        let lateness = Mutex<[Double]>([])
        let ids = Mutex<Set<String>>([])
        let duplicates = Atomic<Int>(0)
    }

    static func receiver(port: Int) async throws {
        let rec = Receiver()
        let router = Router()
        router.post("/hook") { req, _ -> HTTPResponse.Status in
            let arrival = Double(wallMicros()) / 1000
            var req = req
            let body = try await req.collectBody(upTo: 1 << 20)
            if let v = try? VigilJSON.decode(JSONValue.self, from: Array(body.readableBytesView)),
                v["type"]?.stringValue == "dispatch.requested",
                let due = v["data"]?["missed_check_in_due_at"]?.stringValue.flatMap(Timestamp.init(rfc3339:)),
                let grace = v["data"]?["session"]?["grace_s"]?.intValue
            {
                let id = req.headers[.init("webhook-id")!] ?? ""
                let fresh = rec.ids.withLock { $0.insert(id).inserted }
                if fresh {
                    rec.lateness.withLock { $0.append(arrival - Double(due.millis + grace * 1000)) }
                } else {
                    rec.duplicates.add(1, ordering: .relaxed)
                }
            }
            return .ok
        }
        router.get("/stats") { _, _ -> String in
            let s = Summary(rec.lateness.withLock { $0 })
            return String(
                format: "{\"count\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"duplicates\":%d}", s.count,
                s.p50, s.p99, s.max, rec.duplicates.load(ordering: .relaxed))
        }
        router.post("/reset") { _, _ -> HTTPResponse.Status in
            rec.lateness.withLock { $0 = [] }
            rec.ids.withLock { $0 = [] }
            return .ok
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await app.runService()
    }
}
