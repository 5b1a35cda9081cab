import Foundation
import Logging
import ServiceLifecycle
import Testing
import VigilCore
import VigilDelivery
import VigilTestKit

@testable import VigilRuntime

/// The watchdog in the whole service: a deadline that does not fire turns `/readyz` red and raises the system
/// alarm, retried while the alarm target fails; once the deadline fires, `/readyz` is green again and the alarm
/// is cleared on the system timeline.
@Suite("the watchdog, in the whole service on a manual clock")
struct WatchdogBootTests {
    static let yaml = """
        listen: "127.0.0.1:8080"
        auth: {tokens: [{name: console, role: operator, token_env: OP_TOKEN}]}
        targets:
          ems: {url: "http://127.0.0.1:9/ems", format: json, secret_env: EMS_SECRET}
          alarm:
            url: "http://127.0.0.1:9/alarm"
            format: json
            secret_env: EMS_SECRET
            retry: {max_attempts: 5, initial_backoff_s: 0.2, max_backoff_s: 0.5}
        alarm_targets: [alarm]
        # The sweep would rescue a silent timer within its interval: here it looks once a minute, so the stall
        # stays until the test ends it.
        scheduler: {sweep_interval_s: 60}
        policies:
          default: {ack_timeout_s: 60, steps: [{after_s: 0, dispatch: [ems]}]}
        """

    static func alarms(_ t: RecordingTransport) -> [(id: String, raised: Bool)] {
        t.requests.filter { $0.url.hasSuffix("/alarm") }.compactMap { r in
            guard let body = try? VigilJSON.decode(JSONValue.self, from: r.body),
                body["type"]?.stringValue == "system.alarm",
                let id = r.headers.first(where: { $0.0.lowercased() == "webhook-id" })?.1
            else { return nil }
            return (id, body["data"]?["raised"] == true)
        }
    }

    @Test("a deadline that does not fire: /readyz red, the alarm raised and retried, then cleared when it fires")
    func stalledDeadline() async throws {
        let (service, store, manual, timer, transport) = try await ServiceBootTests.boot(Self.yaml)
        let client = CurlClient()
        defer { client.shutdown() }
        func readyz() async -> Int {
            await client.perform(
                HTTPRequestSpec(
                    url: "http://127.0.0.1:\(service.port() ?? 0)/readyz", method: "GET", timeoutMillis: 5000)
            ).status
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.group.run() }
            #expect(try await ServiceBootTests.eventually { await readyz() == 200 }, "ready before the stall")
            let session = try await service.engine.start(
                StartRequest(
                    caller: Caller(alias: "J"), location: Location(address: "1 Test St"), interval: .seconds(60),
                    grace: .seconds(10), policy: "default", notes: nil))
            // The alarm target is down; the deadline passes and the timer says nothing (a stalled scheduler).
            transport.answer(503)
            let fired = manual.advance(by: .seconds(75))
            #expect(fired == [session.id])
            #expect(try await ServiceBootTests.eventually { await readyz() == 503 }, "/readyz red on the stall")
            // The alarm is raised and retried, one alarm under one webhook id, while its target answers 503.
            #expect(try await ServiceBootTests.eventually { Self.alarms(transport).count >= 2 }, "retried")
            let raised = Self.alarms(transport)
            #expect(Set(raised.map(\.id)).count == 1 && raised.allSatisfy(\.raised), "\(raised)")
            // The target comes back, the deadline fires: ready again, and the alarm is cleared.
            transport.answer(200)
            timer.yield(fired)
            #expect(try await ServiceBootTests.eventually { await readyz() == 200 }, "/readyz green once it fired")
            // Cleared on the system timeline (the console's banner goes); the targets were told only of the raise.
            #expect(
                try await ServiceBootTests.eventually {
                    store.allEvents.contains { $0.type == .systemAlarm && $0.data["raised"] == false }
                }, "the alarm was cleared")
            await service.group.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }
}
