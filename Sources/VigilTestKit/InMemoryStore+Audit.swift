import VigilCore

/// The chain over the events in memory, computed when asked (the real stores write it with each event).
extension InMemoryStore: AuditLog {
    public func auditHead() async throws -> AuditHead {
        let records = try chained()
        guard let last = records.last, let hash = last.hash else {
            return AuditHead(seq: 0, hash: AuditChain.genesis, at: nil)
        }
        return AuditHead(seq: last.seq, hash: hash, at: Timestamp(rfc3339: last.at))
    }

    public func auditRecords(after seq: Int64, to: Int64?, limit: Int) async throws -> [AuditRecord] {
        Array(try chained().filter { $0.seq > seq && $0.seq <= (to ?? .max) }.prefix(limit))
    }

    private func chained() throws -> [AuditRecord] {
        var previous = AuditChain.genesis
        return try allEvents.map { e in
            let digest = try AuditChain.dataDigest(e.data)
            previous = AuditChain.link(
                previous: previous, seq: e.seq, type: e.type.rawValue, at: e.at.rfc3339,
                sessionID: e.sessionID?.rawValue,
                dataSHA256: digest)
            return AuditRecord(
                seq: e.seq, type: e.type.rawValue, at: e.at.rfc3339, sessionID: e.sessionID?.rawValue, data: e.data,
                dataSHA256: digest, hash: previous)
        }
    }
}
