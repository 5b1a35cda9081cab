import PostgresNIO
import VigilCore

/// The streams waiting for commit wake-ups, and the last `seq` announced.
struct WakeupSubscribers {
    var streams: [Int: AsyncStream<Int64>.Continuation] = [:]
    var nextID = 0
    var last: Int64?
    var finished = false
}

// Every commit that appends events calls `pg_notify('vigil_events', '<last seq>')` inside its transaction, so the
// notification goes out when, and only if, it commits. A notification is a wake-up, never the data: NOTIFY is lost
// while the listener reconnects and carries at most 8000 bytes, so a consumer reads `events(after:)` from its own
// cursor on every wake-up, and the listener announces the counter itself after every (re)connect.
extension PostgresStore {
    /// Wake-ups carrying the last committed `seq` (of any instance) as far as this instance knows: after each
    /// commit, and after every reconnect of the listening connection. Only the newest value is kept for a slow
    /// reader. Read `events(after:)` on each; the stream ends when `run()` does.
    public func eventWakeups() -> AsyncStream<Int64> {
        let (stream, continuation) = AsyncStream<Int64>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let registered = wakeups.withLock { w -> Int? in
            if w.finished { return nil }
            let id = w.nextID
            w.nextID += 1
            w.streams[id] = continuation
            if let last = w.last { continuation.yield(last) }
            return id
        }
        guard let id = registered else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.wakeups.withLock { $0.streams.removeValue(forKey: id) }
        }
        return stream
    }

    func announce(_ seq: Int64) {
        let streams = wakeups.withLock { w -> [AsyncStream<Int64>.Continuation] in
            w.last = max(w.last ?? seq, seq)
            return Array(w.streams.values)
        }
        for s in streams { s.yield(seq) }
    }

    func finishWakeups() {
        let streams = wakeups.withLock { w -> [AsyncStream<Int64>.Continuation] in
            w.finished = true
            defer { w.streams = [:] }
            return Array(w.streams.values)
        }
        for s in streams { s.finish() }
    }

    /// Keeps one dedicated listening connection until cancelled, reconnecting with a capped backoff.
    func listen() async {
        for await _ in prepared.stream {}
        var backoff = Duration.milliseconds(100)
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            do {
                try await listenOnce(id: attempt)
            } catch {
                if Task.isCancelled { break }
                logger.warning(
                    "the event listener lost the database; reconnecting",
                    metadata: [
                        "error": "\(Self.map(error))", "retry_ms": "\(PostgresStoreConfiguration.millis(backoff))",
                    ])
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    /// One listening connection's life: connect, LISTEN, announce the counter (what was missed while away), then
    /// relay notifications while a heartbeat proves the connection answers; returns or throws when it does not.
    private func listenOnce(id: Int) async throws {
        let slot = ConnectionSlot()
        defer { slot.close() }
        let config = try current.connectionConfiguration(application: "vigil-listener")
        let quiet = self.quiet
        let timeout = configuration.callTimeout
        let heartbeat = configuration.listenerHeartbeat
        let conn = try await Deadline.run(
            configuration.connectTimeout + timeout, what: "listener connect", onTimeout: { slot.close() }
        ) {
            let c = try await PostgresConnection.connect(configuration: config, id: id, logger: quiet)
            slot.set(c)
            return c
        }
        try await conn.listen(on: PostgresSchema.channel) { notifications in
            let last = try await Deadline.run(timeout, what: "listener catch-up", onTimeout: { slot.close() }) {
                var last: Int64 = 0
                for try await v in try await conn.query("SELECT last FROM event_seq", logger: quiet).decode(
                    Int64.self)
                {
                    last = v
                }
                return last
            }
            self.announce(last)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await n in notifications {
                        if let seq = Int64(n.payload) { self.announce(seq) }
                    }
                    throw VigilError.unavailable("the listening connection closed")
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: heartbeat)
                        try await Deadline.run(timeout, what: "listener heartbeat", onTimeout: { slot.close() }) {
                            _ = try await conn.query("SELECT 1", logger: quiet).collect()
                        }
                    }
                }
                do {
                    try await group.next()
                } catch {
                    // Closing the connection ends the other child too (its notifications or its query fail).
                    slot.close()
                    group.cancelAll()
                    throw error
                }
            }
        }
    }
}
