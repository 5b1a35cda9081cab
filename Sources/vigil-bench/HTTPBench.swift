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

    /// Hands out request numbers and, when paced, the moment each may go: `t0 + n / rate`.
    final class Pacer: Sendable {
        let next = Atomic<Int>(0)
        let t0 = DispatchTime.now().uptimeNanoseconds
        let rate: Double?
        init(rate: Double?) { self.rate = rate }

        /// The next request's number, after waiting for its moment.
        func take() async -> Int {
            let n = next.add(1, ordering: .relaxed).oldValue
            if let rate {
                let due = t0 &+ (UInt64(exactly: (min(Double(n) / rate * 1e9, 1e15)).rounded(.down)) ?? 0)
                let now = DispatchTime.now().uptimeNanoseconds
                if due > now { try? await Task.sleep(nanoseconds: due - now) }
            }
            return n
        }
    }

    static func alertBody(_ id: String, kind: String, annotations: String = "") -> String {
        #"[{"labels":{"alertname":"VigilBench","kind":"\#(kind)","session":"\#(id)"},"annotations":{\#(annotations)}}]"#
    }

    /// Starts `count` sessions (Vigil) or posts `count` alerts that route to no receiver (Alertmanager),
    /// `concurrency` at a time, paced at `rate` per second if given; returns their ids.
    static func populate(
        server: String, peer: Peer, token: String, count: Int, interval: Int, grace: Int, policy: String,
        concurrency: Int, rate: Double?
    ) async -> [String] {
        let client = CurlClient()
        let pacer = Pacer(rate: rate)
        let t0 = Date()
        let ids = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var mine: [String] = []
                    while true {
                        let n = await pacer.take()
                        if n >= count { break }
                        switch peer {
                        case .vigil:
                            let body =
                                #"{"location":{"address":"1 Bench St"},"check_in_interval_s":\#(interval),"grace_s":\#(grace),"policy":"\#(policy)"}"#
                            let (status, bytes, _) = await post(
                                client, server + "/v1/sessions", token: token, body: body)
                            if status == 201, let v = try? VigilJSON.decode(JSONValue.self, from: bytes),
                                let id = v["id"]?.stringValue
                            {
                                mine.append(id)
                            }
                        case .alertmanager:
                            let id = "am-\(n)"
                            let (status, _, _) = await post(
                                client, server + "/api/v2/alerts", token: "", body: alertBody(id, kind: "checkin"))
                            if status == 200 { mine.append(id) }
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
                format: "populate (%@): %d of %d in %.1f s, %.0f/s", peer.rawValue, ids.count, count, secs,
                Double(ids.count) / secs))
        client.shutdown()
        return ids
    }

    /// Durable check-ins (Vigil) or alert re-posts (Alertmanager) against random ids with `concurrency` clients
    /// for `seconds`, paced at `rate` per second if given.
    static func checkIns(
        server: String, peer: Peer, token: String, ids: [String], concurrency: Int, seconds: Double, rate: Double?
    ) async {
        let client = CurlClient()
        let deadline = Date().addingTimeInterval(seconds)
        let errors = Counter()
        let pacer = Pacer(rate: rate)
        let t0 = Date()
        let latencies = await withTaskGroup(of: [Double].self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var mine: [Double] = []
                    var g = SystemRandomNumberGenerator()
                    while Date() < deadline {
                        _ = await pacer.take()
                        if Date() >= deadline { break }
                        let id = ids[Int.random(in: 0..<ids.count, using: &g)]
                        let (status, _, ms) =
                            switch peer {
                            case .vigil:
                                await post(
                                    client, server + "/v1/sessions/\(id)/check-ins", token: token,
                                    body: #"{"source":"device"}"#)
                            case .alertmanager:
                                await post(
                                    client, server + "/api/v2/alerts", token: "", body: alertBody(id, kind: "checkin"))
                            }
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
                    "check-ins (%@): concurrency %d%@: %.0f requests/s over %.1f s; latency ms p50 %.2f p99 %.2f max %.2f; errors %d",
                peer.rawValue, concurrency, rate.map { String(format: " at %.0f/s offered", $0) } ?? "",
                Double(s.count) / secs, secs, s.p50, s.p99, s.max, errors.value.load(ordering: .relaxed)))
        client.shutdown()
    }

    /// `count` lapses spread across `spread` seconds; waits until the receiver has seen them all (or `wait`
    /// seconds after the last was due) and prints what it measured.
    static func lapseStorm(
        server: String, peer: Peer, receiver: String, token: String, count: Int, spread: Double, interval: Int,
        grace: Int, policy: String, concurrency: Int, wait: Double
    ) async throws {
        let client = CurlClient()
        defer { client.shutdown() }
        _ = await post(client, receiver + "/reset", token: "", body: "")
        let rate = Double(count) / spread
        let started = Date()
        switch peer {
        case .vigil:
            client.shutdown()
            let ids = await populate(
                server: server, peer: .vigil, token: token, count: count, interval: interval, grace: grace,
                policy: policy, concurrency: concurrency, rate: rate)
            say(
                "lapse-storm (vigil): \(ids.count) sessions started; they lapse \(interval + grace) s after their start"
            )
        case .alertmanager:
            let pacer = Pacer(rate: rate)
            let c = CurlClient()
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        while true {
                            let n = await pacer.take()
                            if n >= count { break }
                            _ = await post(
                                c, server + "/api/v2/alerts", token: "",
                                body: alertBody(
                                    "lapse-\(n)", kind: "lapse", annotations: #""due_ms":"\#(wallMillis())""#))
                        }
                    }
                }
            }
            c.shutdown()
            say("lapse-storm (alertmanager): \(count) alerts posted, each at its lapse")
        }
        let lastDue = started.addingTimeInterval(peer == .vigil ? spread + Double(interval + grace) : spread)
        let statsClient = CurlClient()
        defer { statsClient.shutdown() }
        var last = ""
        while true {
            let r = await statsClient.perform(
                HTTPRequestSpec(url: receiver + "/stats", method: "GET", timeoutMillis: 5000))
            last = String(decoding: r.body, as: UTF8.self)
            let seen = (try? VigilJSON.decode(JSONValue.self, from: r.body))?["count"]?.intValue ?? 0
            if seen >= count || Date() > lastDue.addingTimeInterval(wait) { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        say("lapse-storm (\(peer.rawValue)): lapse -> webhook received, ms: \(last)")
    }

    /// A webhook receiver that records how late each dispatch arrived after the lapse it reports.
    final class Receiver: Sendable {
        let lateness = Mutex<[Double]>([])
        let ids = Mutex<Set<String>>([])
        let arrivals = Mutex<(first: Double, last: Double)?>(nil)
        let duplicates = Atomic<Int>(0)

        func record(id: String, arrival: Double, lapse: Double) {
            guard ids.withLock({ $0.insert(id).inserted }) else {
                duplicates.add(1, ordering: .relaxed)
                return
            }
            lateness.withLock { $0.append(arrival - lapse) }
            arrivals.withLock { a in a = (a?.first ?? arrival, arrival) }
        }
    }

    static func receiver(port: Int) async throws {
        let rec = Receiver()
        let router = Router()
        // Vigil: one dispatch per request; the lapse is the missed check-in's due time plus the grace.
        router.post("/hook") { req, _ -> HTTPResponse.Status in
            let arrival = Double(wallMicros()) / 1000
            var req = req
            let body = try await req.collectBody(upTo: 1 << 20)
            if let v = try? VigilJSON.decode(JSONValue.self, from: Array(body.readableBytesView)),
                v["type"]?.stringValue == "dispatch.requested",
                let due = v["data"]?["missed_check_in_due_at"]?.stringValue.flatMap(Timestamp.init(rfc3339:)),
                let grace = v["data"]?["session"]?["grace_s"]?.intValue
            {
                rec.record(
                    id: req.headers[.init("webhook-id")!] ?? "", arrival: arrival,
                    lapse: Double(due.millis) + Double(grace) * 1000)
            }
            return .ok
        }
        // Alertmanager: one or more alerts per request; the lapse is the `due_ms` annotation the generator set.
        router.post("/am") { req, _ -> HTTPResponse.Status in
            let arrival = Double(wallMicros()) / 1000
            var req = req
            let body = try await req.collectBody(upTo: 1 << 22)
            if let v = try? VigilJSON.decode(JSONValue.self, from: Array(body.readableBytesView)),
                case .array(let alerts)? = v["alerts"]
            {
                for a in alerts {
                    guard let id = a["labels"]?["session"]?.stringValue,
                        let due = a["annotations"]?["due_ms"]?.stringValue.flatMap({ Double($0) })
                    else { continue }
                    rec.record(id: id, arrival: arrival, lapse: due)
                }
            }
            return .ok
        }
        router.get("/stats") { _, _ -> String in
            let s = Summary(rec.lateness.withLock { $0 })
            let span = rec.arrivals.withLock { $0 }.map { ($0.last - $0.first) / 1000 } ?? 0
            return String(
                format:
                    "{\"count\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"duplicates\":%d,\"received_per_s\":%.0f}",
                s.count, s.p50, s.p99, s.max, rec.duplicates.load(ordering: .relaxed),
                span > 0 ? Double(s.count - 1) / span : 0)
        }
        router.post("/reset") { _, _ -> HTTPResponse.Status in
            rec.lateness.withLock { $0 = [] }
            rec.ids.withLock { $0 = [] }
            rec.arrivals.withLock { $0 = nil }
            return .ok
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await app.runService()
    }
}
