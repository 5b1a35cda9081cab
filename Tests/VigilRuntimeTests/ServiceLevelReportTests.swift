import Foundation
import Testing
import VigilCore
import VigilRuntime
import VigilStore
import VigilTestKit

/// The service-level report (the body of `GET /v1/reports/slo`) over a scripted shift: the real engine on a real
/// SQLite file, a manual clock, each step answered after a chosen delay; the expected percentiles are computed here,
/// from the delays, not by the service.
@Suite("Service levels")
struct ServiceLevelReportTests {
    static let policy = Policy(
        name: "default", ackTimeout: .seconds(600),
        steps: [Step(after: .zero, action: .notify(["sup"])), Step(after: .seconds(8), action: .dispatch(["ems"]))])

    /// Per lapsed session: notify 2xx after, dispatch 2xx after, partner's `accepted` after the dispatch's 2xx (ms).
    static let script: [(notify: Int64, dispatch: Int64, accepted: Int64)] = [
        (400, 1_000, 30_000), (1_200, 12_000, 45_000), (2_500, 3_000, 60_000), (800, 8_000, 20_000),
        (3_900, 15_000, 90_000), (300, 500, 15_000), (2_900, 9_000, 120_000), (1_500, 11_000, 40_000),
        (700, 2_000, 25_000), (3_100, 4_000, 35_000), (5_000, 10_000, 50_000), (6_500, 20_500, 70_000),
    ]
    /// A manual dispatch of an active session, answered after this many ms.
    static let manual: Int64 = 6_000

    /// The nearest-rank percentile, written out the long way: the first value whose rank reaches p% of the count.
    static func nearestRank(_ values: [Int64], _ p: Double) -> Double {
        let sorted = values.sorted()
        var rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        rank = Swift.max(1, Swift.min(sorted.count, rank))
        return Double(sorted[rank - 1]) / 1000
    }

    /// The figures the report should give for `values`, as numbers (JSON does not keep 2.0 apart from 2).
    static func expected(_ values: [Int64], target: Int64?) -> [String: Double?] {
        [
            "count": Double(values.count), "p50_s": nearestRank(values, 50), "p90_s": nearestRank(values, 90),
            "p99_s": nearestRank(values, 99), "max_s": Double(values.max() ?? 0) / 1000,
            "within_target": target.map { t in Double(values.filter { $0 <= t }.count) / Double(values.count) },
        ]
    }

    static func figures(_ v: JSONValue?) -> [String: Double?] {
        guard case .object(let o)? = v else { return [:] }
        return o.mapValues { $0.doubleValue }
    }

    @Test("the report's percentiles and fractions within target match the scripted delays")
    func scriptedShift() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-slo-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(
            path: dir + "/v.sqlite", sealer: try AESGCMSealer(key: Array(repeating: 9, count: 32)))
        let time = ManualTime()
        let engine = SessionEngine(
            store: store, scheduler: time, clock: time, policies: ["default": Self.policy],
            observer: RecordingObserver())
        func advance(_ ms: Int64) async throws {
            var left = ms
            while left > 0 {
                let step = Swift.min(100, left)
                left -= step
                for id in time.advance(by: Millis(step)) { try await engine.fire(id) }
            }
        }
        func deliver(_ sid: SessionID, _ type: EventType) async throws {
            let due = try await store.dueNotifications(at: time.now() + .seconds(86_400), limit: 1000)
            let item = try #require(due.last { $0.sessionID == sid && $0.type == type })
            try await engine.execute(sid, .delivery(item, .delivered(targetIndex: 0, status: 200, attempts: 1)))
        }
        let from = time.now()
        for (notify, dispatch, accepted) in Self.script {
            let s = try await engine.start(
                StartRequest(
                    caller: Caller(alias: "J"), location: Location(address: "1 A St"), interval: .seconds(10),
                    grace: .seconds(1), policy: "default", notes: nil))
            try await advance(11_000)  // due, grace, and the notify step fires on time
            try await advance(notify)
            try await deliver(s.id, .escalationStep)
            try await advance(8_000 - notify)  // the dispatch step fires on time
            try await advance(dispatch)
            try await deliver(s.id, .dispatchRequested)
            try await advance(accepted)
            try await engine.execute(s.id, .dispatchStatus(.accepted, reference: nil, by: "ems"))
            try await engine.execute(s.id, .end(outcome: .emsAttended, by: "op", note: nil))
            try await advance(60_000)
        }
        let m = try await engine.start(
            StartRequest(
                caller: Caller(alias: "K"), location: Location(address: "2 B St"), interval: .seconds(600),
                grace: .seconds(60), policy: "default", notes: nil))
        try await engine.execute(m.id, .dispatchNow(by: "op"))
        try await advance(Self.manual)
        try await deliver(m.id, .dispatchRequested)
        let to = time.now() + .seconds(1)

        let body = try await store.serviceLevels(
            from: from, to: to, targets: [.deadlineToNotify: .seconds(5), .deadlineToDispatch: .seconds(10)]
        ).json
        let notify = Self.script.map(\.notify)
        let dispatch = Self.script.map(\.dispatch) + [Self.manual]
        let accepted = Self.script.map(\.accepted)
        #expect(Self.figures(body["deadline_to_notify"]) == Self.expected(notify, target: 5_000))
        #expect(Self.figures(body["deadline_to_dispatch"]) == Self.expected(dispatch, target: 10_000))
        #expect(Self.figures(body["dispatch_to_accepted"]) == Self.expected(accepted, target: nil))
        // The window selects by the interval's start: from after the first session leaves it out.
        let later = try await store.serviceLevels(
            from: from + .seconds(20), to: to, targets: [.deadlineToNotify: .seconds(5)])
        #expect(later.levels[.deadlineToNotify]?.millis.sorted() == Array(notify.dropFirst()).sorted())
    }
}
