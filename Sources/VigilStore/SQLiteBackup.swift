import Foundation
import GRDB
import VigilCore

/// Copies of a SQLite database made with SQLite's online backup API, for `vigil backup` and `vigil restore`.
public enum SQLiteBackup {
    /// What a database holds, read without migrating it.
    public struct Contents: Sendable, Equatable {
        /// Sessions, ended ones included.
        public var sessions: Int
        /// Events in the log.
        public var events: Int
        /// Notifications in the outbox.
        public var notifications: Int
        /// The schema migrations applied, in order.
        public var migrations: [String]
    }

    /// The schema migrations this build knows, in order.
    public static var knownMigrations: [String] { SQLiteStore.migrator.migrations }

    /// Copies the database at `source` into a new file at `destination` while the service may be writing: the copy
    /// is one consistent snapshot (the backup API copies every page in one step inside one read transaction), then
    /// checked with `PRAGMA integrity_check`.
    public static func copy(from source: String, to destination: String) throws -> Contents {
        guard FileManager.default.fileExists(atPath: source) else {
            throw VigilError.invalid("no SQLite database at \(source)")
        }
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw VigilError.conflict("\(destination) already exists")
        }
        do {
            var config = GRDB.Configuration()
            // The running instance may hold the write lock for a moment (group commit): wait rather than fail.
            config.busyMode = .timeout(10)
            let from = try DatabaseQueue(path: source, configuration: config)
            let to = try DatabaseQueue(path: destination)
            try from.backup(to: to)
            // A copy in rollback-journal mode is one self-contained file, readable without its -wal and -shm; the
            // service turns WAL on again when it opens the restored database.
            try to.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = DELETE") }
            try from.close()
            try to.close()
        } catch let e as DatabaseError {
            try? FileManager.default.removeItem(atPath: destination)
            throw VigilError.unavailable("the backup of \(source) failed: \(e.message ?? "\(e.resultCode)")")
        }
        return try inspect(destination)
    }

    /// Checks a database file (`PRAGMA integrity_check`) and counts what it holds; never writes to it.
    public static func inspect(_ path: String) throws -> Contents {
        guard FileManager.default.fileExists(atPath: path) else {
            throw VigilError.invalid("no SQLite database at \(path)")
        }
        do {
            var config = GRDB.Configuration()
            config.readonly = true
            let db = try DatabaseQueue(path: path, configuration: config)
            defer { try? db.close() }
            return try db.read { db in
                let check = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                guard check == ["ok"] else {
                    throw VigilError.invalid(
                        "the database \(path) is damaged: \(check.prefix(3).joined(separator: "; "))")
                }
                guard try db.tableExists("sessions"), try db.tableExists("events"), try db.tableExists("outbox")
                else {
                    throw VigilError.invalid("\(path) is not a Vigil database")
                }
                let migrations =
                    try db.tableExists("grdb_migrations")
                    ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid") : []
                return Contents(
                    sessions: try Int.fetchOne(db, sql: "SELECT count(*) FROM sessions") ?? 0,
                    events: try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0,
                    notifications: try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox") ?? 0,
                    migrations: migrations)
            }
        } catch let e as DatabaseError {
            throw VigilError.invalid("cannot read the database \(path): \(e.message ?? "\(e.resultCode)")")
        }
    }
}
