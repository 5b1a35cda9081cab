/// Fresh links on several instances: each link token a session gains (the person's at the start, a responder's when
/// the ladder reaches them) is recorded in the store's `LinkDirectory` before the commit that makes it, so the first
/// tap on an instance that has not heard of the session yet finds it there.
extension SessionEngine {
    /// Records the link tokens `after` has and `before` had not; best effort (the follower also brings every
    /// session to every instance, a moment later).
    func recordLinks(of after: Session, before: Session?) async {
        guard before == nil || after.responderLinks != nil, let links = store as? any LinkDirectory else { return }
        var hashes: [String] = []
        if before == nil { hashes.append(SHA256Digest.hex(after.checkInToken)) }
        let known = Set(before?.responderLinks?.map(\.tokenHash) ?? [])
        hashes += (after.responderLinks ?? []).map(\.tokenHash).filter { !known.contains($0) }
        guard !hashes.isEmpty else { return }
        try? await links.recordLinks(hashes, session: after.id, at: clock.now())
    }

    /// Loads into memory the open session a link token's `hash` belongs to, when the store knows it and this engine
    /// does not hold it yet.
    func adoptLinked(_ hash: String) async {
        guard let links = store as? any LinkDirectory, let id = try? await links.session(linkHash: hash),
            open[id] == nil, let stored = try? await store.session(id), stored.state.isOpen, open[id] == nil
        else { return }
        remember(stored, foreign: true)
    }
}
