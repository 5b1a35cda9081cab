import Foundation
import Logging
import PostgresNIO
import Synchronization
import VigilCore

/// Writing: group commits of prepared batches, each batch in its own savepoint, outbox bookkeeping.
extension PostgresStore {
    // MARK: Writing

    /// A batch with every blob already encoded and sealed, so the writer only runs SQL.
    struct PreparedBatch: Sendable {
        var batch: CommitBatch
        var snapshot: Data?
        var events: [ByteBuffer]
        /// Each event's `data_sha256`, and the RFC 8785 text of its chain header before and after its seq.
        var chain: [(digest: ByteBuffer, head: ByteBuffer, tail: ByteBuffer)]
        var outbox: [(body: Data, targets: String, webhookIDs: String)]
    }

    /// Batches waiting for the writer (one from `commit`, several from `commitAll`), with their caller and when
    /// they were queued.
    struct QueuedWrite: Sendable {
        var batches: [PreparedBatch]
        var caller: CheckedContinuation<[Result<[StoredEvent], any Error>], Never>
        var queuedAt: ContinuousClock.Instant
    }

    struct PendingWrites {
        var queue: [QueuedWrite] = []
        var writing = false
    }

    /// The most batches one transaction carries: a longer `commitAll` is written `maxGroup` at a time, so that no
    /// transaction holds the event counter long enough to miss its deadline.
    static let maxGroup = 64

    /// Writes a batch durably; throws `conflict` (writing nothing of it) when the snapshot's version moved.
    /// Concurrent commits of this instance share one transaction (group commit), each batch in its own savepoint.
    public func commit(_ batch: CommitBatch) async throws -> [StoredEvent] {
        // Seal before the transaction so encryption does not lengthen it.
        let prepared = try prepare(batch)
        let results = await enqueue([prepared])
        guard let first = results.first else { throw VigilError(.internalError, "the writer lost a batch") }
        return try first.get()
    }

    /// Writes several independent batches together, `maxGroup` to a transaction (each batch in its own savepoint
    /// when one is refused, so one failing fails alone), sharing the group commit with whatever else is queued.
    /// The results are in the batches' order. A burst of lapses is a few transactions, not one commit each.
    public func commitAll(_ batches: [CommitBatch]) async -> [Result<[StoredEvent], any Error>] {
        await CommitBatch.commitEach(batches, prepare: prepare) { prepared in
            var results: [Result<[StoredEvent], any Error>] = []
            var from = 0
            while from < prepared.count {
                let to = min(from + Self.maxGroup, prepared.count)
                results += await enqueue(Array(prepared[from..<to]))
                from = to
            }
            return results
        }
    }

    /// Encodes and seals a batch's blobs.
    func prepare(_ batch: CommitBatch) throws -> PreparedBatch {
        PreparedBatch(
            batch: batch,
            snapshot: try batch.session.map {
                Data(try sealer.seal(VigilJSON.encode($0), context: Self.context(session: $0.id)))
            },
            events: try batch.events.map {
                ByteBuffer(
                    bytes: try sealer.seal(VigilJSON.encode($0.data), context: Self.context(events: batch.sessionID)))
            },
            chain: try batch.events.map {
                let digest = try AuditChain.dataDigest($0.data)
                let (head, tail) = AuditChain.header(
                    type: $0.type.rawValue, at: $0.at.rfc3339, sessionID: batch.sessionID?.rawValue,
                    dataSHA256: digest)
                return (ByteBuffer(bytes: digest), ByteBuffer(bytes: head), ByteBuffer(bytes: tail))
            },
            outbox: try batch.outbox.map {
                (
                    body: Data(try sealer.seal($0.body, context: Self.context(outbox: $0.id))),
                    targets: String(decoding: try VigilJSON.encode($0.targets), as: UTF8.self),
                    webhookIDs: String(decoding: try VigilJSON.encode($0.webhookIDs), as: UTF8.self)
                )
            })
    }

    /// Queues batches for the writer and waits for their results, one per batch in order.
    func enqueue(_ batches: [PreparedBatch]) async -> [Result<[StoredEvent], any Error>] {
        await withCheckedContinuation { cont in
            let start = writes.withLock { w -> Bool in
                w.queue.append(QueuedWrite(batches: batches, caller: cont, queuedAt: .now))
                if w.writing { return false }
                w.writing = true
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    /// Writes queued batches, about `maxGroup` per transaction, until the queue is empty.
    ///
    /// The call deadline counts from `commit`, queueing included: a write that already waited it out fails,
    /// unwritten, and a group gets only what its oldest write has left. So while the database is away every
    /// commit still answers within about `callTimeout`, instead of queueing behind groups that each wait theirs.
    func drain() async {
        let limit = configuration.callTimeout
        while true {
            let work = writes.withLock { w -> [QueuedWrite] in
                var taken = 0
                var count = 0
                for q in w.queue {
                    if count > 0 && count + q.batches.count > Self.maxGroup { break }
                    count += q.batches.count
                    taken += 1
                }
                let group = Array(w.queue.prefix(taken))
                w.queue.removeFirst(taken)
                if group.isEmpty { w.writing = false }
                return group
            }
            if work.isEmpty { return }
            let now = ContinuousClock.now
            let late = limit - .milliseconds(20)
            let live = work.filter { now - $0.queuedAt < late }
            for w in work where now - w.queuedAt >= late {
                let error = VigilError.unavailable(
                    "the database did not take the write within \(PostgresStoreConfiguration.millis(limit)) ms")
                w.caller.resume(returning: w.batches.map { _ in .failure(error) })
            }
            guard let oldest = live.map(\.queuedAt).min() else { continue }
            let deadline = oldest + limit
            let batches = live.flatMap(\.batches)
            var results: [Result<[StoredEvent], any Error>]
            do {
                results = try await writeGroup(batches, until: deadline)
            } catch {
                let mapped = Self.map(error)
                results = batches.map { _ in .failure(mapped) }
            }
            if results.count != batches.count {
                let error = VigilError(.internalError, "the writer answered \(results.count) of \(batches.count)")
                results = batches.map { _ in .failure(error) }
            }
            if listener.isSet {
                let all = results.flatMap { r -> [StoredEvent] in (try? r.get()) ?? [] }
                if !all.isEmpty { listener.notify(all) }
            }
            var next = 0
            for w in live {
                w.caller.resume(returning: Array(results[next..<next + w.batches.count]))
                next += w.batches.count
            }
        }
    }

    /// A batch of a group was refused (a conflict, a duplicate): the group is written again, in savepoints.
    struct GroupRefused: Error {}

    /// One transaction for a group of batches. Optimistically without savepoints (three times fewer round trips);
    /// when the server refuses one batch, the group is written again with each batch in its own savepoint, so that
    /// only the refused one fails. An error of the connection fails the whole group at once.
    func writeGroup(_ batches: [PreparedBatch], until deadline: ContinuousClock.Instant) async throws
        -> [Result<[StoredEvent], any Error>]
    {
        if batches.count > 1 {
            do {
                return try await writeGroup(batches, savepoints: false, until: deadline)
            } catch is GroupRefused {
                return try await writeGroup(batches, savepoints: true, until: deadline)
            }
        }
        return try await writeGroup(batches, savepoints: false, until: deadline)
    }

    func writeGroup(_ batches: [PreparedBatch], savepoints: Bool, until deadline: ContinuousClock.Instant)
        async throws -> [Result<[StoredEvent], any Error>]
    {
        let quiet = self.quiet
        let left = max(deadline - .now, .milliseconds(20))
        return try await transaction("commit", timeout: left) { conn in
            let optimistic = batches.count > 1 && !savepoints
            var failures: [Int: any Error] = [:]
            for (i, b) in batches.enumerated() {
                if savepoints { _ = try await conn.query("SAVEPOINT vigil_batch", logger: quiet).collect() }
                do {
                    try await Self.writeRows(b, conn, logger: quiet)
                    if savepoints {
                        _ = try await conn.query("RELEASE SAVEPOINT vigil_batch", logger: quiet).collect()
                    }
                } catch {
                    let refused = error is VigilError || (error as? PSQLError)?.serverInfo != nil
                    if optimistic && refused { throw GroupRefused() }
                    guard savepoints else { throw error }
                    _ = try await conn.query("ROLLBACK TO SAVEPOINT vigil_batch", logger: quiet).collect()
                    failures[i] = Self.map(error)
                }
            }
            // The sequence numbers come from a one-row counter updated inside this transaction, not from a
            // PostgreSQL sequence: a sequence numbers at insert, so a transaction that took 7 and commits after
            // the one that took 8 would let a reader resume past 7 and never see it. The counter's row lock is
            // held until commit, so commits that append events are serialized and each sees the last committed
            // number: `seq` is gap-free in commit order across every instance. That is also why the counter is
            // taken last, after the compare-and-set and the outbox, once for the whole group, and in one
            // statement with the inserts and the wake-up: the lock is held for as short a time as possible.
            var sids: [String] = []
            var types: [String] = []
            var ats: [Int64] = []
            var data: [ByteBuffer] = []
            var digests: [ByteBuffer] = []
            var heads: [ByteBuffer] = []
            var tails: [ByteBuffer] = []
            for (i, b) in batches.enumerated() where failures[i] == nil {
                for (k, e) in b.batch.events.enumerated() {
                    sids.append(b.batch.sessionID?.rawValue ?? "")
                    types.append(e.type.rawValue)
                    ats.append(e.at.millis)
                    data.append(b.events[k])
                    digests.append(b.chain[k].digest)
                    heads.append(b.chain[k].head)
                    tails.append(b.chain[k].tail)
                }
            }
            var next: Int64 = 0
            if !types.isEmpty {
                let n = Int64(types.count)
                // Numbers, chains (from the hash kept with the counter), inserts and wakes, in one statement.
                let rows = try await conn.query(
                    """
                    SELECT vigil_append_events(\(sids)::text[], \(types)::text[], \(ats)::bigint[], \(data)::bytea[],
                        \(digests)::bytea[], \(heads)::bytea[], \(tails)::bytea[])
                    """, logger: quiet
                ).collect()
                guard let row = rows.first, rows.count == 1, let last = try row.decode(Int64?.self) else {
                    throw VigilError(.internalError, "the event counter is missing")
                }
                next = last - n + 1
            }
            var results: [Result<[StoredEvent], any Error>] = []
            for (i, b) in batches.enumerated() {
                if let failure = failures[i] {
                    results.append(.failure(failure))
                    continue
                }
                var stored: [StoredEvent] = []
                for e in b.batch.events {
                    stored.append(
                        StoredEvent(seq: next, sessionID: b.batch.sessionID, type: e.type, at: e.at, data: e.data))
                    next += 1
                }
                results.append(.success(stored))
            }
            return results
        }
    }

    /// A batch's rows but its events: the snapshot (compare-and-set), new notifications, outbox changes.
    static func writeRows(_ p: PreparedBatch, _ conn: PostgresConnection, logger quiet: Logger) async throws {
        let batch = p.batch
        if let s = batch.session, let snapshot = p.snapshot {
            let version = Int64(s.version)
            let deadline = s.nextDeadline?.millis
            if let expected = batch.expectedVersion {
                let rows = try await conn.query(
                    """
                    UPDATE sessions SET version = \(version), state = \(s.state.rawValue), ended_at = \(s.endedAt?.millis),
                        due_at = \(deadline), snapshot = \(snapshot),
                        claim_owner = NULL, claim_incarnation = NULL, claim_until = NULL
                    WHERE id = \(s.id.rawValue) AND version = \(Int64(expected)) RETURNING 1
                    """, logger: quiet
                ).collect()
                if rows.count != 1 { throw VigilError.conflict("the session changed since it was read") }
            } else {
                _ = try await conn.query(
                    """
                    INSERT INTO sessions (id, version, state, started_at, ended_at, due_at, snapshot)
                    VALUES (\(s.id.rawValue), \(version), \(s.state.rawValue), \(s.startedAt.millis),
                        \(s.endedAt?.millis), \(deadline), \(snapshot))
                    """, logger: quiet
                ).collect()
            }
        }
        for (i, item) in batch.outbox.enumerated() {
            _ = try await conn.query(
                """
                INSERT INTO outbox (id, session_id, type, targets, webhook_ids, body, created_at, is_dispatch,
                    status, target_index, attempts, next_attempt_at, target_since)
                VALUES (\(item.id.rawValue), \(item.sessionID.rawValue), \(item.type.rawValue),
                    \(p.outbox[i].targets), \(p.outbox[i].webhookIDs), \(p.outbox[i].body), \(item.createdAt.millis),
                    \(item.isDispatch), \(item.status.rawValue), \(Int64(item.targetIndex)),
                    \(Int64(item.attempts)), \(item.nextAttemptAt.millis), \(item.targetSince?.millis))
                """, logger: quiet
            ).collect()
        }
        for i in lockOrder(batch.outboxUpdates) {
            _ = try await apply(batch.outboxUpdates[i], conn, logger: quiet, releasing: false)
        }
    }

    /// The order in which to apply outbox updates: by row id (stable), so that two transactions touching the same
    /// rows lock them in the same order and cannot deadlock.
    static func lockOrder(_ updates: [OutboxUpdate]) -> [Int] {
        updates.indices.sorted { (updates[$0].id.rawValue, $0) < (updates[$1].id.rawValue, $1) }
    }

    /// Applies an outbox update; true when a row changed. `releasing` also gives up any claim on the row.
    static func apply(
        _ u: OutboxUpdate, _ conn: PostgresConnection, logger: Logger, releasing: Bool,
        owner: (String, Int64)? = nil
    ) async throws -> Bool {
        let rows = try await conn.query(
            """
            UPDATE outbox SET status = \(u.status.rawValue), target_index = \(Int64(u.targetIndex)),
                attempts = \(Int64(u.attempts)), next_attempt_at = \(u.nextAttemptAt.millis),
                target_since = \(u.targetSince?.millis),
                owner = CASE WHEN \(releasing) THEN NULL ELSE owner END,
                incarnation = CASE WHEN \(releasing) THEN NULL ELSE incarnation END,
                lease_until = CASE WHEN \(releasing) THEN NULL ELSE lease_until END
            WHERE id = \(u.id.rawValue) AND (NOT \(u.onlyIfPending) OR status = 'pending')
                AND (\(owner == nil) OR (owner = \(owner?.0) AND incarnation = \(owner?.1)))
            RETURNING 1
            """, logger: logger
        ).collect()
        return !rows.isEmpty
    }

    /// Records attempts in one transaction, each only while pending (when asked), freeing any claim on the row.
    public func recordAttempts(_ updates: [OutboxUpdate]) async throws -> [Bool] {
        let quiet = self.quiet
        return try await transaction("record attempts") { conn in
            var out = [Bool](repeating: false, count: updates.count)
            for i in Self.lockOrder(updates) {
                // A claim for an attempt on the wire keeps its owner, so that a restart of the same instance can
                // find what it left in flight (`resendOrphans`); any other update gives the claim up.
                out[i] = try await Self.apply(updates[i], conn, logger: quiet, releasing: !updates[i].claim)
            }
            return out
        }
    }

    /// Records one attempt, only while pending (when asked), freeing any claim on the row.
    public func recordAttempt(_ update: OutboxUpdate) async throws -> Bool {
        let quiet = self.quiet
        return try await call("record attempt") { conn in
            try await Self.apply(update, conn, logger: quiet, releasing: true)
        }
    }
}
