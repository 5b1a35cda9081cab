import Foundation
import Logging
import Synchronization
import VigilCore

/// The mass-lapse count of a cluster (docs/contract.md, "Mass lapse"): the instance that holds the `mass-lapse`
/// duty reads every lapse from the shared log (events `escalation.started`, whichever instance decided them, by
/// their lapse time), counts them, raises `system.mass_lapse` once per episode and holds the dispatch steps of the
/// sessions an episode catches. What it counted (the lapses in the window, the running episode, how far it read
/// the log) is stored on the duty's lease at every round, so a restart or another holder takes up the count.
///
/// A session caught while it lapses is held within a round (about a second) of its lapse, by whichever instance
/// holds the duty: a dispatch step at `after_s: 0` may go out before (on one instance the hold is part of the
/// decision itself).
final class ClusterMassLapse: Sendable {
    static let duty = "mass-lapse"
    /// The duty's lease: a holder that stops renewing is replaced this long after its last round.
    static let lease = Millis.seconds(5)
    static let page = 500

    private struct Saved: Codable {
        var cursor: Int64
        var detector: MassLapseDetector.State
    }

    private struct Work {
        var epoch: Int64
        var cursor: Int64
        var detector: MassLapseDetector
    }

    private let settings: MassLapseSettings
    private let cluster: ClusterStore
    private let duties: ClusterDuties
    private let engine: SessionEngine
    private let clock: any WallClock
    private let raise: @Sendable (Int, Timestamp) async -> Void
    private let logger: Logger
    /// The count as this holder last stored it, in the epoch it held; nil when it must be read again.
    private let cache = Mutex<Work?>(nil)

    init(
        settings: MassLapseSettings, cluster: ClusterStore, duties: ClusterDuties, engine: SessionEngine,
        clock: any WallClock, raise: @escaping @Sendable (Int, Timestamp) async -> Void, logger: Logger
    ) {
        self.settings = settings
        self.cluster = cluster
        self.duties = duties
        self.engine = engine
        self.clock = clock
        self.raise = raise
        self.logger = logger
    }

    /// One round; called every second on every instance, counts on the holder only.
    func round() async {
        guard let grant = await duties.hold(Self.duty, for: Self.lease) else {
            cache.withLock { $0 = nil }
            return
        }
        do {
            var work = try await load(epoch: grant.epoch)
            // The log is read from where the count stopped; the first count ever looks back two windows.
            let since = clock.now() - settings.within - settings.within
            var verdicts: [MassLapseVerdict] = []
            while true {
                let page = try await cluster.lapses(work.cursor, since, Self.page)
                for lapse in page {
                    let v = work.detector.record(lapse.session, at: lapse.at)
                    if v.newEpisode || !v.caught.isEmpty { verdicts.append(v) }
                }
                if let last = page.last { work.cursor = last.seq }
                if page.count < Self.page { break }
            }
            // Acting before storing: a holder that dies between the two makes its successor raise the alarm again,
            // never miss it.
            guard grant.isValid else {
                cache.withLock { $0 = nil }
                return
            }
            let now = clock.now()
            for v in verdicts {
                if v.newEpisode { await raise(v.count, now) }
                _ = await engine.holdCaught(v.caught, count: v.count)
            }
            let text = String(
                decoding: try JSONEncoder().encode(Saved(cursor: work.cursor, detector: work.detector.state)),
                as: UTF8.self)
            let stored = try await cluster.saveDutyState(Self.duty, text, grant.epoch)
            cache.withLock { $0 = stored ? work : nil }
        } catch {
            cache.withLock { $0 = nil }
            logger.warning("the mass-lapse count could not be brought up to date", metadata: ["error": "\(error)"])
        }
    }

    private func load(epoch: Int64) async throws -> Work {
        if let w = cache.withLock({ $0 }), w.epoch == epoch { return w }
        guard let text = try await cluster.dutyState(Self.duty),
            let saved = try? JSONDecoder().decode(Saved.self, from: Data(text.utf8))
        else { return Work(epoch: epoch, cursor: 0, detector: MassLapseDetector(settings)) }
        return Work(epoch: epoch, cursor: saved.cursor, detector: MassLapseDetector(settings, state: saved.detector))
    }
}
