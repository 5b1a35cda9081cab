import ArgumentParser
import Foundation
import VigilCore
import VigilRuntime
import VigilStore

/// `vigil audit verify` over a SQLite store of many events, sealed with AES-GCM as in production: seeds the store
/// (once; a later run reuses it), then times the verification the command runs, from the first page read to the
/// outcome.
struct AuditVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit-verify", abstract: "Seconds to verify the chained event log of a SQLite store.")
    @Option(help: "Events in the store.") var events = 1_000_000
    @Option(help: "The database file (kept: a later run with the same file only verifies).")
    var path = "/tmp/vigil-bench-audit/vigil.sqlite"

    func validate() throws {
        guard events > 0, events <= 50_000_000 else { throw ValidationError("--events must be 1...50000000") }
    }

    func run() async throws {
        let sealer = try AESGCMSealer(key: Array(repeating: 7, count: 32))
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: path, sealer: sealer)
        let have = try await store.auditHead().seq
        if have < Int64(events) {
            let started = ContinuousClock.now
            try await seed(store, from: have, to: Int64(events))
            print("seeded \(Int64(events) - have) events in \(seconds(ContinuousClock.now - started)) s")
        }
        let started = ContinuousClock.now
        let cpu = Self.cpuSeconds()
        let now = Timestamp(millis: Int64(Date().timeIntervalSince1970 * 1000))
        let outcome = try await AuditTool.verify(log: store, retentionDays: 30, now: now)
        let elapsed = ContinuousClock.now - started
        print(AuditTool.report(outcome).text)
        print(
            "verified \(outcome.count) events in \(seconds(elapsed)) s "
                + "(\(String(format: "%.2f", Self.cpuSeconds() - cpu)) s of CPU: the machine is shared)")
    }

    /// Events of the shapes a shift writes (check-ins with a note, steps, deliveries), 50 to a session, 1,000
    /// sessions' batches to a transaction.
    func seed(_ store: SQLiteStore, from: Int64, to: Int64) async throws {
        let t0 = Timestamp(millis: 1_790_000_000_000)
        var n = from
        var session = Int(from / 50)
        while n < to {
            var batches: [CommitBatch] = []
            while batches.count < 1000 && n < to {
                let id = SessionID(rawValue: "ses_bench\(session)")
                var events: [NewEvent] = []
                for k in 0..<min(Int64(50), to - n) {
                    let at = t0 + Millis((n + k) * 1000)
                    switch k % 3 {
                    case 0:
                        events.append(
                            NewEvent(
                                .checkInReceived, at: at, ["source": "caller", "note": "fine, thanks", "by": "console"])
                        )
                    case 1:
                        events.append(
                            NewEvent(
                                .escalationStep, at: at,
                                ["step": .int(k), "targets": ["supervisors", "ops-pager"], "late_s": .double(0.012)]))
                    default:
                        events.append(
                            NewEvent(
                                .deliverySucceeded, at: at,
                                ["target": "ems-primary", "status": 200, "attempt": 1, "webhook_id": "msg_0123456789"]))
                    }
                }
                n += Int64(events.count)
                batches.append(
                    CommitBatch(
                        session: nil, expectedVersion: nil, sessionID: id, events: events, outbox: [],
                        outboxUpdates: []))
                session += 1
            }
            for r in await store.commitAll(batches) { _ = try r.get() }
        }
    }

    /// User and system CPU time of this process so far.
    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    func seconds(_ d: Duration) -> String {
        String(format: "%.2f", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }
}
