import Foundation
import Prometheus
import Testing
import VigilCore
import VigilDelivery

@testable import VigilRuntime

@Suite("the service's metrics")
struct RuntimeMetricsTests {
    static func metrics() -> RuntimeMetrics {
        RuntimeMetrics(registry: PrometheusCollectorRegistry(), targets: ["ems", "sup"])
    }

    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test("every configured target's attempt series start at zero, so the first failure is a visible increase")
    func seriesStartAtZero() {
        let text = Self.metrics().emitText()
        for target in ["ems", "sup"] {
            for result in ["delivered", "retry", "failed"] {
                #expect(
                    Self.sample(text, "vigil_delivery_attempts_total{target=\"\(target)\",result=\"\(result)\"}") == 0)
            }
            #expect(Self.sample(text, "vigil_delivery_target_failures_total{target=\"\(target)\"}") == 0)
        }
        #expect(Self.sample(text, "vigil_events_total{type=\"delivery.failed\"}") == 0)
    }

    @Test("an attempt is counted by target and result, timed in seconds; a render failure counts as a target failure")
    func attempts() {
        let m = Self.metrics()
        m.record(AttemptRecord(target: "ems", result: .retry, millis: 250))
        m.record(AttemptRecord(target: "ems", result: .failed, millis: 1500))
        m.record(AttemptRecord(target: "sup", result: .delivered, millis: 20))
        m.record(AttemptRecord(target: "sup", result: .failed, millis: nil))
        m.record(AttemptRecord(target: "not-configured", result: .failed, millis: 5))
        let text = m.emitText()
        #expect(Self.sample(text, "vigil_delivery_attempts_total{target=\"ems\",result=\"retry\"}") == 1)
        #expect(Self.sample(text, "vigil_delivery_attempts_total{target=\"ems\",result=\"failed\"}") == 1)
        #expect(Self.sample(text, "vigil_delivery_target_failures_total{target=\"ems\"}") == 1)
        #expect(Self.sample(text, "vigil_delivery_attempts_total{target=\"sup\",result=\"delivered\"}") == 1)
        #expect(Self.sample(text, "vigil_delivery_attempts_total{target=\"sup\",result=\"failed\"}") == 0)
        #expect(Self.sample(text, "vigil_delivery_target_failures_total{target=\"sup\"}") == 1)
        #expect(Self.sample(text, "vigil_delivery_attempt_duration_seconds_sum{target=\"ems\"}") == 1.75)
        #expect(Self.sample(text, "vigil_delivery_attempt_duration_seconds_count{target=\"ems\"}") == 2)
        #expect(Self.sample(text, "vigil_delivery_attempt_duration_seconds_count{target=\"sup\"}") == 1)
        #expect(!text.contains("not-configured"))
    }

    @Test("levels are set in base units and durations never go negative")
    func levels() {
        let m = Self.metrics()
        m.update(
            RuntimeMetrics.Levels(
                ready: true, watchdogOK: true, sessions: [.active, .active, .escalating], schedulerPending: 3,
                lateness: [4, 1500], deadlineOverdue: Millis(2500), sseClients: 2, inFlight: 1, outboxPending: 7,
                outboxOverdue: Millis(-300), clockSkew: Millis(-3000)))
        let text = m.emitText()
        #expect(Self.sample(text, "vigil_ready") == 1)
        #expect(Self.sample(text, "vigil_open_sessions") == 3)
        #expect(Self.sample(text, "vigil_sessions{state=\"active\"}") == 2)
        #expect(Self.sample(text, "vigil_sessions{state=\"escalating\"}") == 1)
        #expect(Self.sample(text, "vigil_sessions{state=\"overdue\"}") == 0)
        #expect(Self.sample(text, "vigil_deadline_overdue_seconds") == 2.5)
        #expect(Self.sample(text, "vigil_outbox_overdue_seconds") == 0)
        #expect(Self.sample(text, "vigil_outbox_pending_notifications") == 7)
        #expect(Self.sample(text, "vigil_clock_skew_seconds") == -3)
        #expect(Self.sample(text, "vigil_deadline_lateness_seconds_count") == 2)
        #expect(Self.sample(text, "vigil_deadline_lateness_seconds_sum") == 1.504)
        #expect(Self.sample(text, "vigil_deadline_lateness_seconds_bucket{le=\"0.005\"}") == 1)
    }

    @Test("the families the service registers are the documented list, each with its type")
    func families() {
        let text = Self.metrics().emitText()
        var types: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            types[String(parts[2])] = String(parts[3])
        }
        #expect(types == Dictionary(uniqueKeysWithValues: RuntimeMetrics.families.map { ($0.name, $0.type) }))
    }
}
