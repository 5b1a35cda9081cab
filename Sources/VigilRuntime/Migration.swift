import Foundation
import Logging
import VigilCore
import VigilPostgres
import VigilStore

/// `vigil migrate`: a SQLite installation's sessions, events, outbox and response plans copied into an empty
/// PostgreSQL database, under the same encryption key, so that any number of instances can take over from the one.
public enum Migration {
    /// Copies everything; `progress` is told how far it got. Refuses a destination that holds anything, and a source
    /// that an instance serves (what it wrote during the copy would be lost).
    public static func run(
        from sqlitePath: String, to settings: PostgresSettings, keyEnv: String?, keyFile: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        progress: @escaping @Sendable (String) -> Void
    ) async throws -> (sessions: Int, events: Int, notifications: Int, plans: Int) {
        guard FileManager.default.fileExists(atPath: sqlitePath) else {
            throw VigilError.invalid("no SQLite database at \(sqlitePath)")
        }
        let lock = try InstanceLock.exclusive(database: sqlitePath, holder: "vigil migrate", purpose: "migrating it")
        defer { withExtendedLifetime(lock) {} }
        try InstanceLock.refuseOtherHolders(of: sqlitePath, purpose: "migrating it")
        let dir = (sqlitePath as NSString).deletingLastPathComponent
        let key = keyFile ?? ((dir.isEmpty ? "." : dir) + "/vigil.key")
        if keyEnv == nil, !FileManager.default.fileExists(atPath: key) {
            throw VigilError.invalid("no key file at \(key): name the source's key with --key-file or --key-env")
        }
        let (sealer, _) = try AESGCMSealer.load(keyEnv: keyEnv, keyFile: key, environment: environment)
        let source = try SQLiteStore(path: sqlitePath, sealer: sealer)
        let configuration = try PostgresStoreConfiguration(
            url: settings.url, password: settings.password,
            tls: settings.caFile.map { .verifyFull(caFile: $0) } ?? .disable)
        return try await PostgresStore.withStore(
            configuration: configuration, sealer: sealer, keyID: "aes-256-gcm/\(sealer.currentKeyID)",
            logger: Logger(label: "vigil.migrate")
        ) { dest in
            guard try await dest.lastSequence() == 0, try await dest.sessions(.all, limit: 1).isEmpty else {
                throw VigilError.conflict("the destination database is not empty; migrate into an empty one")
            }
            let sessions = try await source.sessions(.all, limit: .max)
            // Sessions first (their snapshots, versions and deadlines as they are), then every event in its
            // original order, one transaction per run of one session's events, then the outbox as it stands.
            for (i, s) in sessions.enumerated() {
                _ = try await dest.commit(
                    CommitBatch(
                        session: s, expectedVersion: nil, sessionID: s.id, events: [], outbox: [], outboxUpdates: []))
                if (i + 1) % 1000 == 0 { progress("sessions: \(i + 1) of \(sessions.count)") }
            }
            var events = 0
            var cursor: Int64 = 0
            while true {
                let page = try await source.events(after: cursor, limit: 1000)
                guard let last = page.last else { break }
                var run: [StoredEvent] = []
                for e in page {
                    if let first = run.first, first.sessionID != e.sessionID {
                        try await copy(run, to: dest)
                        run = []
                    }
                    run.append(e)
                }
                try await copy(run, to: dest)
                events += page.count
                cursor = last.seq
                progress("events: \(events)")
            }
            let outbox = try await source.allNotifications()
            for item in outbox {
                _ = try await dest.commit(
                    CommitBatch(
                        session: nil, expectedVersion: nil, sessionID: item.sessionID, events: [], outbox: [item],
                        outboxUpdates: []))
            }
            let plans = try await source.allPlans()
            for plan in plans {
                try await dest.savePlan(named: plan.name, responders: plan.responders, at: plan.updatedAt)
            }
            return (sessions.count, events, outbox.count, plans.count)
        }
    }

    static func copy(_ run: [StoredEvent], to dest: PostgresStore) async throws {
        guard let first = run.first else { return }
        _ = try await dest.commit(
            CommitBatch(
                session: nil, expectedVersion: nil, sessionID: first.sessionID,
                events: run.map { NewEvent($0.type, at: $0.at, $0.data) }, outbox: [], outboxUpdates: []))
    }
}
