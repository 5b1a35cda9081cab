import VigilCore
import VigilDelivery
import VigilHTTP

/// `GET /metrics`: every level read at scrape time, then the Prometheus text.
struct MetricsScrape: Sendable {
    let metrics: RuntimeMetrics
    let engine: SessionEngine
    let store: any OutboxQueue
    let hub: EventHub
    let worker: OutboxWorker
    let watchdog: Watchdog
    let time: ServiceTime
    let readiness: @Sendable () async -> Readiness
    let sms: InboundSMS?

    func text() async -> String {
        let now = time.clock.now()
        let oldestDeadline = await engine.oldestPastDeadline()
        let oldestPending = try? await store.oldestPendingNotification()
        metrics.update(
            RuntimeMetrics.Levels(
                ready: await readiness().ready, watchdogOK: watchdog.isContent,
                sessions: await engine.openSessions().map(\.state), schedulerPending: time.pending(),
                lateness: time.lateness(), deadlineOverdue: oldestDeadline.map { now - $0 },
                sseClients: hub.subscriberCount, inFlight: worker.sending,
                outboxPending: try? await store.pendingNotificationCount(),
                outboxOverdue: oldestPending.map { now - $0 }, clockSkew: time.wallSkew()))
        return metrics.emitText() + InboundSMS.metrics(sms)
    }
}
