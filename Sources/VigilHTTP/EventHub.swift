import Synchronization
import VigilCore

/// Fans committed events out to the live streams of consoles, in sequence order.
///
/// A stream that falls behind is closed rather than thinned: it keeps the events it already holds, the next one is
/// not added, and the stream ends after the last it holds; its browser reconnects with `Last-Event-ID` and reads
/// the rest from the store, so a slow console receives every event, in order, and never silently misses a
/// `delivery.failed`.
public final class EventHub: Sendable {
    /// What a subscriber receives: an event, or a keep-alive tick.
    public enum Item: Sendable {
        case event(StoredEvent)
        case tick
    }

    private struct Subscriber {
        let owner: String
        let continuation: AsyncStream<Item>.Continuation
        var since: Timestamp? = nil
    }

    private struct State {
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
        var lastSeq: Int64 = 0
        var closed = false
    }

    private let state = Mutex(State())
    /// Events a stream may have waiting before it is closed.
    public let bufferLimit: Int

    /// Creates a hub.
    public init(bufferLimit: Int = 10_000) { self.bufferLimit = bufferLimit }

    /// The highest sequence number published.
    public var lastSeq: Int64 { state.withLock { $0.lastSeq } }

    /// How many streams are open.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// A stream of everything published from now on, for `owner` (a token's name); nil when `owner` already has
    /// `limit` streams open.
    public func subscribe(owner: String = "", limit: Int = .max, at since: Timestamp? = nil) -> AsyncStream<Item>? {
        open(owner: owner, limit: limit, at: since)?.stream
    }

    /// As `subscribe`, with the highest sequence number published before the stream began: the stream carries
    /// every event after it, so a client that asked for no earlier events starts there without a gap.
    public func open(owner: String = "", limit: Int = .max, at since: Timestamp? = nil) -> (
        stream: AsyncStream<Item>, after: Int64
    )? {
        // Oldest kept: on overflow the newest is refused (and the stream closed), so what it delivers has no hole.
        let (stream, cont) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingOldest(bufferLimit))
        let opened = state.withLock { s -> (id: Int, after: Int64)? in
            if s.closed { return (-1, s.lastSeq) }
            guard s.subscribers.values.filter({ $0.owner == owner }).count < limit else { return nil }
            s.nextID += 1
            s.subscribers[s.nextID] = Subscriber(owner: owner, continuation: cont, since: since)
            return (s.nextID, s.lastSeq)
        }
        guard let opened else { return nil }
        let id = opened.id
        if id == -1 {
            cont.finish()
            return (stream, opened.after)
        }
        cont.onTermination = { [weak self] _ in self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) } }
        return (stream, opened.after)
    }

    /// Who has a stream open now: each owner with its number of streams and the time its oldest one opened.
    public func owners() -> [(owner: String, streams: Int, since: Timestamp?)] {
        let subs = state.withLock { Array($0.subscribers.values) }
        var byOwner: [String: (streams: Int, since: Timestamp?)] = [:]
        for sub in subs {
            var entry = byOwner[sub.owner] ?? (0, sub.since)
            entry.streams += 1
            if let t = sub.since, entry.since.map({ t < $0 }) ?? true { entry.since = t }
            byOwner[sub.owner] = entry
        }
        return byOwner.sorted { $0.key < $1.key }.map {
            (owner: $0.key, streams: $0.value.streams, since: $0.value.since)
        }
    }

    /// Publishes committed events.
    public func publish(_ events: [StoredEvent]) {
        guard !events.isEmpty else { return }
        let subs = state.withLock { s -> [Subscriber] in
            s.lastSeq = max(s.lastSeq, events.map(\.seq).max() ?? 0)
            return Array(s.subscribers.values)
        }
        for sub in subs {
            for e in events {
                if case .dropped = sub.continuation.yield(.event(e)) {
                    // Behind by more than the buffer: this event was not added; close, so that the client resumes
                    // from the store after the last event it received.
                    sub.continuation.finish()
                    break
                }
            }
        }
    }

    /// Sends a keep-alive to every stream.
    public func tick() {
        let subs = state.withLock { Array($0.subscribers.values) }
        for sub in subs { sub.continuation.yield(.tick) }
    }

    /// Ends every stream of these owners (tokens revoked by a reload) now; returns how many were closed.
    @discardableResult
    public func close(owners: Set<String>) -> Int {
        guard !owners.isEmpty else { return 0 }
        let subs = state.withLock { s in s.subscribers.values.filter { owners.contains($0.owner) } }
        for sub in subs { sub.continuation.finish() }
        return subs.count
    }

    /// Ends every stream and refuses new ones: graceful shutdown must not wait for consoles to hang up.
    public func finishAll() {
        let subs = state.withLock { s -> [Subscriber] in
            s.closed = true
            return Array(s.subscribers.values)
        }
        for sub in subs { sub.continuation.finish() }
    }
}
