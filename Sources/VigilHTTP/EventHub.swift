import Synchronization
import VigilCore

/// Fans committed events out to the live streams of consoles, in sequence order.
public final class EventHub: Sendable {
    /// What a subscriber receives: an event, or a keep-alive tick.
    public enum Item: Sendable {
        case event(StoredEvent)
        case tick
    }

    private struct State {
        var subscribers: [Int: AsyncStream<Item>.Continuation] = [:]
        var nextID = 0
        var lastSeq: Int64 = 0
    }

    private let state = Mutex(State())

    /// Creates a hub.
    public init() {}

    /// The highest sequence number published.
    public var lastSeq: Int64 { state.withLock { $0.lastSeq } }

    /// How many streams are open.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// A stream of everything published from now on.
    public func subscribe() -> AsyncStream<Item> {
        let (stream, cont) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingNewest(10_000))
        let id = state.withLock { s -> Int in
            s.nextID += 1
            s.subscribers[s.nextID] = cont
            return s.nextID
        }
        cont.onTermination = { [weak self] _ in self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) } }
        return stream
    }

    /// Publishes committed events.
    public func publish(_ events: [StoredEvent]) {
        guard !events.isEmpty else { return }
        let subs = state.withLock { s -> [AsyncStream<Item>.Continuation] in
            s.lastSeq = max(s.lastSeq, events.map(\.seq).max() ?? 0)
            return Array(s.subscribers.values)
        }
        for c in subs { for e in events { c.yield(.event(e)) } }
    }

    /// Sends a keep-alive to every stream.
    public func tick() {
        let subs = state.withLock { Array($0.subscribers.values) }
        for c in subs { c.yield(.tick) }
    }
}
