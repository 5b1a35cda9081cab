/// What `normalizeCallbackNumbers` did.
public struct NumberNormalization: Equatable, Sendable {
    /// Sessions whose number was rewritten in E.164.
    public var normalized: [SessionID] = []
    /// Sessions whose number cannot be read as a phone number: left as they are.
    public var unreadable: [SessionID] = []
    /// Sessions that could not be rewritten (changed concurrently, or the store failed): left as they are.
    public var failed: [SessionID] = []

    /// Nothing done yet.
    public init() {}
}

extension SessionEngine {
    /// Rewrites in E.164 the callback number of every open session that was stored as typed (before numbers were
    /// read at intake), so that a text from the number finds its session. `read` turns a stored number into E.164
    /// (nil when it cannot). Each rewrite is a compare-and-set on the session's version, with no event and no
    /// notification: the number is the same number. Run after `recover`; a session another instance changes
    /// meanwhile is left for the next start (texts are matched by reading both numbers the same way anyway).
    public func normalizeCallbackNumbers(_ read: @Sendable (String) -> String?) async -> NumberNormalization {
        var result = NumberNormalization()
        let ids = open.values.filter { s in
            guard let n = s.caller.callbackNumber else { return false }
            return read(n) != n
        }.map(\.id).sorted { $0.rawValue < $1.rawValue }
        for id in ids {
            await acquire(id)
            defer { release(id) }
            guard let current = open[id], let stored = current.caller.callbackNumber else { continue }
            guard let e164 = read(stored) else {
                result.unreadable.append(id)
                continue
            }
            guard e164 != stored else { continue }
            var updated = current
            updated.caller.callbackNumber = e164
            updated.version += 1
            do {
                _ = try await store.commit(
                    CommitBatch(
                        session: updated, expectedVersion: current.version, sessionID: id, events: [], outbox: [],
                        outboxUpdates: []))
                remember(updated)
                result.normalized.append(id)
            } catch {
                result.failed.append(id)
            }
        }
        return result
    }
}
