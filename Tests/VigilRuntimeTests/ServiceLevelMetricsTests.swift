import Foundation
import Prometheus
import Testing
import VigilCore

@testable import VigilRuntime

/// The histograms are fed by the committed events: a notify step's scheduled time to its first 2xx, a dispatch's
/// to its first 2xx, each counted once.
@Suite("service-level histograms")
struct ServiceLevelMetricsTests {
    static func event(_ seq: Int64, _ type: EventType, at ms: Int64, _ data: JSONValue) -> StoredEvent {
        StoredEvent(
            seq: seq, sessionID: SessionID(rawValue: "ses_1"), type: type, at: Timestamp(millis: ms), data: data)
    }

    @Test("a notify step answered 3.2 s after its time and a dispatch 12 s after its step land in their buckets")
    func histograms() {
        let m = RuntimeMetrics(registry: PrometheusCollectorRegistry(), targets: ["ems", "sup"])
        let t0: Int64 = 1_000_000
        m.record([
            Self.event(
                1, .escalationStep, at: t0 + 100,
                [
                    "step": 1, "action": "notify", "targets": .strings(["sup"]),
                    "scheduled_at": .time(Timestamp(millis: t0)),
                    "late_ms": 100, "webhook_ids": .strings(["msg_a"]),
                ]),
            Self.event(
                2, .deliverySucceeded, at: t0 + 3_200,
                [
                    "type": "escalation.step", "target": "sup", "status": 200, "attempts": 1, "webhook_id": "msg_a",
                    "notification": "ntf_a",
                ]),
            // A second 2xx for the same webhook is not a second interval.
            Self.event(
                3, .deliverySucceeded, at: t0 + 3_500,
                [
                    "type": "escalation.step", "target": "sup", "status": 200, "attempts": 1, "webhook_id": "msg_a",
                    "notification": "ntf_a",
                ]),
            Self.event(
                4, .dispatchRequested, at: t0 + 60_500,
                [
                    "step": 2, "targets": .strings(["ems"]), "requested_by": "ladder", "notification": "ntf_d",
                    "webhook_ids": .strings(["msg_d"]), "late_ms": 500,
                ]),
            Self.event(
                5, .dispatchAccepted, at: t0 + 72_000,
                [
                    "type": "dispatch.requested", "target": "ems", "status": 202, "attempts": 2, "webhook_id": "msg_d",
                    "notification": "ntf_d",
                ]),
        ])
        let text = m.emitText()
        func sample(_ series: String) -> Double? {
            for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
                return Double(line.dropFirst(series.count + 1))
            }
            return nil
        }
        #expect(sample("vigil_deadline_to_notify_seconds_count") == 1)
        #expect(sample("vigil_deadline_to_notify_seconds_sum") == 3.2)
        #expect(sample("vigil_deadline_to_notify_seconds_bucket{le=\"3.0\"}") == 0)
        #expect(sample("vigil_deadline_to_notify_seconds_bucket{le=\"5.0\"}") == 1)
        #expect(sample("vigil_deadline_to_dispatch_seconds_count") == 1)
        #expect(sample("vigil_deadline_to_dispatch_seconds_sum") == 12)
        #expect(sample("vigil_deadline_to_dispatch_seconds_bucket{le=\"10.0\"}") == 0)
        #expect(sample("vigil_deadline_to_dispatch_seconds_bucket{le=\"15.0\"}") == 1)
    }
}
