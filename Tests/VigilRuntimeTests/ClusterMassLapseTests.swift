import Foundation
import Logging
import Synchronization
import Testing
import VigilCore
import VigilTestKit

@testable import VigilRuntime

/// A shared database as the cluster's duties see it: one lease (a holder, an epoch), the duty's stored state,
/// and the log of lapses, written by any instance.
final class FakeCluster: Sendable {
    private struct State {
        var holder: String?
        var epoch: Int64 = 0
        var state: String?
        var lapses: [ClusterStore.Lapse] = []
    }
    private let s = Mutex(State())

    /// A lapse logged by any instance.
    func log(_ session: String, at: Timestamp) {
        s.withLock {
            $0.lapses.append((seq: Int64($0.lapses.count + 1), session: SessionID(rawValue: session), at: at))
        }
    }

    /// The holder stops renewing and its lease runs out.
    func expire() { s.withLock { $0.holder = nil } }

    var holder: String? { s.withLock { $0.holder } }

    /// What instance `owner` sees of the database.
    func store(_ owner: String) -> ClusterStore {
        ClusterStore(
            lease: { _, duration in
                self.s.withLock { st -> (epoch: Int64, remaining: Millis)? in
                    if st.holder == nil {
                        st.holder = owner
                        st.epoch += 1
                    }
                    return st.holder == owner ? (st.epoch, duration) : nil
                }
            },
            lapses: { after, _, limit in
                self.s.withLock { Array($0.lapses.filter { $0.seq > after }.prefix(limit)) }
            },
            dutyState: { _ in self.s.withLock { $0.state } },
            saveDutyState: { _, state, epoch in
                self.s.withLock { st in
                    guard st.holder == owner, st.epoch == epoch else { return false }
                    st.state = state
                    return true
                }
            },
            reportConsoles: { $0 })
    }
}

@Suite("the cluster's mass-lapse count, kept by the holder of its duty")
struct ClusterMassLapseTests {
    static let settings = MassLapseSettings(sessions: 10, within: .seconds(60))

    /// One instance's counter over the fake database; `raised` records each alarm's count.
    static func instance(_ owner: String, _ cluster: FakeCluster, _ time: ManualTime, raised: Recorded<Int>) async
        -> ClusterMassLapse
    {
        let engine = SessionEngine(
            store: InMemoryStore(), scheduler: time, clock: time, policies: [:], observer: RecordingObserver())
        let store = cluster.store(owner)
        return ClusterMassLapse(
            settings: settings, cluster: store, duties: ClusterDuties(cluster: store, logger: Logger(label: "test")),
            engine: engine, clock: time, raise: { count, _ in raised.append(count) }, logger: Logger(label: "test"))
    }

    @Test("twelve lapses split six and six between two instances raise one alarm, from the duty's holder")
    func splitLapses() async {
        let cluster = FakeCluster()
        let time = ManualTime()
        let raised = Recorded<Int>()
        let a = await Self.instance("a", cluster, time, raised: raised)
        let b = await Self.instance("b", cluster, time, raised: raised)
        let t0 = time.now()
        for i in 0..<12 {
            // Alternately decided by each instance, one second apart.
            cluster.log("ses_\(i % 2 == 0 ? "a" : "b")\(i)", at: t0 + .seconds(Int64(i)))
            _ = time.advance(by: .seconds(1))
            await a.round()
            await b.round()
        }
        #expect(cluster.holder == "a")
        #expect(raised.all == [11])
    }

    @Test("a restart of the counting instance takes the count up from the database")
    func restartKeepsCount() async {
        let cluster = FakeCluster()
        let time = ManualTime()
        let raised = Recorded<Int>()
        let t0 = time.now()
        let before = await Self.instance("a", cluster, time, raised: raised)
        for i in 0..<6 { cluster.log("ses_\(i)", at: t0 + .seconds(Int64(i))) }
        await before.round()
        let after = await Self.instance("a", cluster, time, raised: raised)
        for i in 6..<12 { cluster.log("ses_\(i)", at: t0 + .seconds(Int64(i))) }
        await after.round()
        await after.round()
        #expect(raised.all == [11])
    }

    @Test("another instance taking the duty over continues the episode without a second alarm")
    func takeoverKeepsEpisode() async {
        let cluster = FakeCluster()
        let time = ManualTime()
        let raised = Recorded<Int>()
        let a = await Self.instance("a", cluster, time, raised: raised)
        let b = await Self.instance("b", cluster, time, raised: raised)
        let t0 = time.now()
        for i in 0..<11 { cluster.log("ses_\(i)", at: t0 + .seconds(Int64(i))) }
        await a.round()
        await b.round()
        #expect(raised.all == [11])
        cluster.expire()
        for i in 11..<20 { cluster.log("ses_\(i)", at: t0 + .seconds(Int64(i))) }
        await b.round()
        await a.round()
        #expect(cluster.holder == "b")
        #expect(raised.all == [11], "one alarm per episode, whoever counts")
        // Past the episode (a whole window without a lapse), a new one alarms again.
        for i in 0..<11 { cluster.log("ses_late\(i)", at: t0 + .seconds(Int64(300 + i))) }
        await b.round()
        #expect(raised.all == [11, 11])
    }
}
