extension SessionEngine {
    /// Ends a session whose stored snapshot cannot be read, when `command` is an `end` and the store set that
    /// snapshot aside; nil otherwise. The record is replaced by an ended one that holds no personal data (the
    /// store keeps the damaged bytes aside), so its alarm stops standing and the session reads again.
    func endIfUnreadable(_ id: SessionID, _ command: Command) async throws -> Session? {
        guard case .end(let outcome, let by, let note) = command, let quarantine = store as? any QuarantineStore,
            let stored = try await quarantine.unreadableSession(id)
        else { return nil }
        let now = clock.now()
        var s = Session(
            id: id, caller: Caller(), location: Location(address: ""), notes: nil, interval: .zero, grace: .zero,
            policy: .consoleOnly, checkInToken: "", at: stored.startedAt)
        s.state = .ended
        s.endedAt = now
        s.outcome = outcome
        s.version = stored.version + 1
        _ = try await store.commit(
            CommitBatch(
                session: s, expectedVersion: stored.version, sessionID: id,
                events: [NewEvent(EventData.SessionEnded(outcome: outcome, by: by, note: note), at: now)], outbox: [],
                outboxUpdates: []))
        return s
    }
}
