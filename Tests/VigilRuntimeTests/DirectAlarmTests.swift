import Logging
import Prometheus
import Synchronization
import Testing
import VigilCore
import VigilDelivery
import VigilTestKit

@testable import VigilRuntime

/// Answers each request with the next status of its script (the last one repeats) and records what it was sent.
final class ScriptedTransport: WebhookTransport, Sendable {
    private let state: Mutex<(script: [HTTPResult], requests: [HTTPRequestSpec])>

    init(_ script: [HTTPResult]) { state = Mutex((script, [])) }

    var requests: [HTTPRequestSpec] { state.withLock { $0.requests } }

    func perform(_ spec: HTTPRequestSpec) async -> HTTPResult {
        state.withLock { s in
            s.requests.append(spec)
            return s.script.count > 1 ? s.script.removeFirst() : s.script[0]
        }
    }

    var lastLoopTick: Int64 { CurlClient.monotonicMillis() }
}

/// A list appended to from `@Sendable` closures.
final class Recorded<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    func append(_ t: T) { items.withLock { $0.append(t) } }
    var all: [T] { items.withLock { $0 } }
}

@Suite("system alarms are retried like every notification")
struct DirectAlarmTests {
    static let target = Target(
        name: "alarm", url: "https://alarm.example/hook", format: .json,
        signer: WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!,
        retry: RetrySettings(maxAttempts: 4, initialBackoff: .seconds(1), maxBackoff: .seconds(30)))

    static func status(_ code: Int, retryAfter: String? = nil) -> HTTPResult {
        HTTPResult(
            status: code, curlCode: code == 0 ? 7 : 0, error: code == 0 ? "refused" : nil,
            headers: retryAfter.map { ["retry-after": $0] } ?? [:])
    }

    /// A sender whose waits move a manual clock instead of sleeping, and that records what it waited and gave up.
    static func sender(
        _ transport: ScriptedTransport, time: ManualTime, waits: Recorded<Millis>, gaveUp: Recorded<TargetName>
    ) -> DirectAlarm {
        DirectAlarm(
            transport: transport, clock: time, logger: Logger(label: "test"),
            sleep: { d in
                waits.append(d)
                _ = time.advance(by: d)
            },
            onGiveUp: { name in gaveUp.append(name) })
    }

    @Test("an alarm target that fails the first attempts and then answers 2xx gets the alarm, under one webhook id")
    func retriedUntilDelivered() async throws {
        let transport = ScriptedTransport([Self.status(0), Self.status(503, retryAfter: "7"), Self.status(204)])
        let time = ManualTime()
        let waits = Recorded<Millis>()
        let gaveUp = Recorded<TargetName>()
        let tasks = Self.sender(transport, time: time, waits: waits, gaveUp: gaveUp).send(
            .systemAlarm, ["raised": true, "reason": "scheduler stalled"], to: [Self.target], "system alarm sent")
        #expect(tasks.count == 1)
        #expect(await tasks[0].value)
        let sent = transport.requests
        #expect(sent.count == 3)
        let ids = sent.map { Dictionary($0.headers, uniquingKeysWith: { a, _ in a })["webhook-id"] }
        #expect(Set(ids).count == 1 && ids[0] != nil, "one alarm, one id, on every retry")
        #expect(Set(sent.map(\.body)).count == 1, "the body is made once")
        let w = waits.all
        #expect(w.count == 2)
        #expect(w[0] >= Millis(750) && w[0] <= .seconds(1), "the first backoff")
        #expect(w[1] == .seconds(7), "Retry-After is honoured")
        #expect(gaveUp.all.isEmpty)
    }

    @Test("an alarm no attempt delivered is given up loudly and counted, after every attempt")
    func givenUpLoudly() async throws {
        let transport = ScriptedTransport([Self.status(503)])
        let gaveUp = Recorded<TargetName>()
        let tasks = Self.sender(transport, time: ManualTime(), waits: Recorded(), gaveUp: gaveUp).send(
            .systemMassLapse, ["count": 12], to: [Self.target], "mass lapse alarm sent")
        #expect(await tasks[0].value == false)
        #expect(transport.requests.count == 4)
        #expect(gaveUp.all == ["alarm"])
    }

    @Test("a refusal (4xx) is not retried, and is counted")
    func refusal() async throws {
        let transport = ScriptedTransport([Self.status(401)])
        let gaveUp = Recorded<TargetName>()
        let tasks = Self.sender(transport, time: ManualTime(), waits: Recorded(), gaveUp: gaveUp).send(
            .systemAlarm, ["raised": true], to: [Self.target], "system alarm sent")
        #expect(await tasks[0].value == false)
        #expect(transport.requests.count == 1)
        #expect(gaveUp.all == ["alarm"])
    }

    @Test("the failure metric is exported per alarm target")
    func metric() {
        let metrics = RuntimeMetrics(registry: PrometheusCollectorRegistry(), targets: ["alarm"])
        metrics.alarmGaveUp("alarm")
        #expect(metrics.emitText().contains(#"vigil_alarm_delivery_failures_total{target="alarm"} 1"#))
    }
}
