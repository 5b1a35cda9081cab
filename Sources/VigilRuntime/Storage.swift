import Logging
import ServiceLifecycle
import Synchronization
import VigilCore
import VigilHTTP

/// What the rest of the service needs from its store, beyond `SessionStore`: how events reach the consoles, how the
/// outbox is claimed, and whether other instances share it.
struct Storage: Sendable {
    /// The store.
    let store: any SessionStore
    /// Whether several instances share the store (PostgreSQL): events then reach the consoles from the store's
    /// log, in `seq` order, whoever committed them; sessions and deadlines other instances made are adopted.
    let shared: Bool
    /// Wake-ups when any instance committed (PostgreSQL `NOTIFY`); nil when only this instance writes.
    let wakeups: (@Sendable () -> AsyncStream<Int64>)?
    /// Claims due notifications for this instance to send, under a lease; nil: the worker reads what is due.
    let claimDue: (@Sendable (Timestamp, Int) async throws -> [OutboxItem])?
    /// The database's clock, to check this instance's against it.
    let databaseNow: (@Sendable () async throws -> Timestamp)?
    /// The highest committed `seq`.
    let lastSequence: @Sendable () async throws -> Int64
    /// What the cluster decides once, under leases in the shared database; nil when this is the only instance.
    var cluster: ClusterStore? = nil
}

/// Feeds the consoles' event hub from the store's log, in `seq` order, on a shared store: woken by this instance's
/// commits, by other instances' (`NOTIFY`), and once a second in case a wake-up was lost. Every session that an
/// event names is refreshed in the engine, so this instance serves, lists and watches it too.
final class EventFollower: Sendable {
    private let storage: Storage
    private let hub: EventHub
    private let engine: SessionEngine
    private let metrics: RuntimeMetrics
    private let logger: Logger
    private let signal: AsyncStream<Void>.Continuation
    private let stream: AsyncStream<Void>
    /// Events this instance committed itself: its engine already holds their sessions as committed.
    private let local = Mutex<Set<Int64>>([])

    init(storage: Storage, hub: EventHub, engine: SessionEngine, metrics: RuntimeMetrics, logger: Logger) {
        self.storage = storage
        self.hub = hub
        self.engine = engine
        self.metrics = metrics
        self.logger = logger
        (stream, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks the follower to read the log now.
    func poke() { signal.yield() }

    /// This instance committed `events`: the follower still publishes them, in order, but need not reload their
    /// sessions from the store.
    func committedHere(_ events: [StoredEvent]) {
        local.withLock { for e in events { $0.insert(e.seq) } }
        signal.yield()
    }

    /// Reads the log until cancelled, starting after `cursor`.
    func run(after start: Int64) async {
        var cursor = start
        let ticker = Task { [signal] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                signal.yield()
            }
        }
        let wake = Task { [storage, signal] in
            guard let wakeups = storage.wakeups else { return }
            for await _ in wakeups() { signal.yield() }
        }
        defer {
            ticker.cancel()
            wake.cancel()
        }
        for await _ in stream {
            if Task.isCancelled { break }
            while true {
                let page: [StoredEvent]
                do {
                    page = try await storage.store.events(after: cursor, limit: 1000)
                } catch {
                    logger.warning("cannot read the event log", metadata: ["error": "\(error)"])
                    break
                }
                guard let last = page.last else { break }
                hub.publish(page)
                metrics.record(page)
                let elsewhere = local.withLock { mine in
                    page.filter { mine.remove($0.seq) == nil }.compactMap(\.sessionID)
                }
                for id in Set(elsewhere) {
                    do { try await engine.refresh(id) } catch {
                        logger.warning("cannot refresh a session", metadata: ["session": "\(id)", "error": "\(error)"])
                    }
                }
                cursor = last.seq
                // Nothing at or below the cursor will be read again.
                local.withLock { mine in mine = mine.filter { $0 > cursor } }
                if page.count < 1000 { break }
            }
        }
    }
}
