import Logging
import Synchronization
import VigilCore

/// What several instances sharing one database need from it to decide things once for the whole cluster; nil on
/// SQLite, where the single process is the cluster.
struct ClusterStore: Sendable {
    /// A lapse read from the shared log.
    typealias Lapse = (seq: Int64, session: SessionID, at: Timestamp)

    /// Takes or renews the named duty's lease for a duration by the database's clock: its epoch (which changes
    /// when the holder does) and how long it still runs; nil while another instance holds it.
    let lease: @Sendable (_ duty: String, _ duration: Millis) async throws -> (epoch: Int64, remaining: Millis)?
    /// The lapses logged after a `seq`, written at or after a time, at most so many, in log order.
    let lapses: @Sendable (_ after: Int64, _ since: Timestamp, _ limit: Int) async throws -> [Lapse]
    /// The state a duty's holders left on its lease.
    let dutyState: @Sendable (_ duty: String) async throws -> String?
    /// Writes a duty's state while this instance holds its lease in that epoch; false (nothing written) otherwise.
    let saveDutyState: @Sendable (_ duty: String, _ state: String, _ epoch: Int64) async throws -> Bool
    /// Records this instance's connected consoles (a heartbeat) and returns the whole cluster's.
    let reportConsoles: @Sendable (_ consoles: Int) async throws -> Int
}

/// A duty this instance holds for now: until `validUntil` by its own monotonic clock (counted from before it asked,
/// so it ends no later than the database's expiry), in `epoch`.
struct DutyGrant: Sendable {
    let epoch: Int64
    let validUntil: ContinuousClock.Instant

    /// Whether it still runs.
    var isValid: Bool { ContinuousClock.now < validUntil }
}

/// The cluster's duties (the mass-lapse count, the unattended-console alarm, retention, and later canary rounds):
/// each is done by the one instance that holds its lease, a row per duty in the database with its holder and an
/// expiry set by PostgreSQL's clock, renewed by the holder at every round of the duty and taken over by another
/// instance once it expired. A new duty needs only a name: `hold("canary", for: …)` at the start of each round.
/// On SQLite the single process always holds every duty.
final class ClusterDuties: Sendable {
    private let cluster: ClusterStore?
    private let logger: Logger
    private let holding = Mutex<Set<String>>([])

    init(cluster: ClusterStore?, logger: Logger) {
        self.cluster = cluster
        self.logger = logger
    }

    /// Takes or renews `duty` for `duration`: the grant while this instance holds it, nil while another does (or
    /// the database cannot be asked). Call it at the start of every round of the duty, more often than `duration`.
    func hold(_ duty: String, for duration: Millis) async -> DutyGrant? {
        guard let cluster else { return DutyGrant(epoch: 0, validUntil: .now + .seconds(86_400 * 365)) }
        let asked = ContinuousClock.now
        var grant: DutyGrant?
        do {
            if let g = try await cluster.lease(duty, duration) {
                grant = DutyGrant(epoch: g.epoch, validUntil: asked + .milliseconds(g.remaining.value))
            }
        } catch {
            logger.warning("cannot renew a cluster duty's lease", metadata: ["duty": "\(duty)", "error": "\(error)"])
        }
        let held = grant != nil
        let changed = holding.withLock { h in held ? h.insert(duty).inserted : h.remove(duty) != nil }
        if changed {
            logger.notice(
                held ? "this instance holds a cluster duty" : "this instance no longer holds a cluster duty",
                metadata: ["duty": "\(duty)", "epoch": "\(grant?.epoch ?? 0)"])
        }
        return grant
    }
}
