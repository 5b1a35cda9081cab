import Foundation
import VigilCore
import VigilRuntime
import VigilStore

/// Writes open sessions straight into a data directory, for memory and restart figures at sizes that would take
/// too long to start over HTTP. Uses the same store, encryption and snapshot format as `vigil serve`.
enum Seed {
    static func run(dataDirectory: String, count: Int, interval: Int64) async throws {
        let (sealer, _) = try AESGCMSealer.load(
            keyEnv: nil, keyFile: dataDirectory + "/vigil.key", environment: [:])
        let store = try SQLiteStore(path: dataDirectory + "/vigil.sqlite", sealer: sealer)
        let clock = AnchoredClock()
        let ids = IDGenerator.system
        let policy = Policy.consoleOnly
        let started = Date()
        let batch = 2000
        var written = 0
        while written < count {
            let n = min(batch, count - written)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<n {
                    group.addTask {
                        let d = SessionMachine.start(
                            StartRequest(
                                caller: Caller(alias: "Seed"), location: Location(address: "1 Bench St"),
                                interval: .seconds(interval), grace: .seconds(30), policy: "default", notes: nil),
                            policy: policy, id: ids.sessionID(), token: ids.checkInToken(), at: clock.now())
                        _ = try await store.commit(
                            CommitBatch(
                                session: d.session, expectedVersion: nil, sessionID: d.session.id, events: d.events,
                                outbox: [], outboxUpdates: []))
                    }
                }
                try await group.waitForAll()
            }
            written += n
            if written % 100_000 == 0 || written == count {
                say(
                    String(
                        format: "seed: %d sessions written (%.0f/s)", written,
                        Double(written) / Date().timeIntervalSince(started)))
            }
        }
    }
}
