import Foundation
import VigilCore
import VigilStore

#if canImport(Glibc)
    import Glibc
#endif

/// `vigil backup` and `vigil restore` for a SQLite installation: the database copied online with SQLite's backup
/// API, the key files beside it with their permissions, and a manifest (`backup.json`) that lets a restore check
/// what it is given before it touches anything.
public enum Backup {
    /// The database's name inside a backup directory.
    static let databaseName = "vigil.sqlite"
    /// The manifest's name inside a backup directory.
    static let manifestName = "backup.json"
    /// The key file's name inside a backup directory; `.next` and `.previous` beside it when they exist.
    static let keyName = "vigil.key"

    /// What a backup holds, as written in its manifest.
    struct Manifest: Codable {
        var format: Int
        var createdAt: String
        var database: String
        var keyFiles: [String]
        /// The id of the key that sealed the data (its SHA-256's first byte): a mismatch is caught before a restore.
        var keyID: Int
        /// The key files were written to a directory of their own (`--key-to`), not beside the data.
        var keyApart: Bool?
        var sessions: Int
        var events: Int
        var notifications: Int
        var migrations: [String]

        enum CodingKeys: String, CodingKey {
            case format, database, sessions, events, notifications, migrations
            case createdAt = "created_at"
            case keyFiles = "key_files"
            case keyID = "key_id"
            case keyApart = "key_apart"
        }
    }

    /// Backs up the installation `config` names into `directory` (missing or empty) while it may be running; the
    /// key files go to `keyDirectory` (missing or empty, outside `directory`), never beside the data they protect.
    public static func run(config: VigilConfig, to directory: String, keyTo keyDirectory: String?) throws -> String {
        try requireSQLite(config)
        let database = config.sqlitePath
        guard FileManager.default.fileExists(atPath: database) else {
            throw VigilError.invalid("no database at \(database): is this the configuration of the instance?")
        }
        let keySource = keyFile(config)
        let keyID: UInt8
        if let env = config.keyEnv {
            let (sealer, _) = try AESGCMSealer.load(
                keyEnv: env, keyFile: keySource, environment: ProcessInfo.processInfo.environment)
            keyID = sealer.currentKeyID
        } else {
            guard FileManager.default.fileExists(atPath: keySource) else {
                throw VigilError.invalid("no key file at \(keySource): without it the backup could not be opened")
            }
            keyID = AESGCMSealer.id(of: try AESGCMSealer.readKey(keySource))
        }
        if config.keyEnv == nil {
            guard let keyDirectory else {
                throw VigilError.invalid(
                    "name --key-to DIR, a directory for the key kept apart from the backup (another disk, a safe): "
                        + "a backup that holds its own key protects nothing")
            }
            guard !isInside(keyDirectory, directory) else {
                throw VigilError.invalid(
                    "--key-to must be outside the backup directory: the key goes apart from the data")
            }
        }
        try prepareEmptyDirectory(directory)
        if config.keyEnv == nil, let keyDirectory { try prepareEmptyDirectory(keyDirectory) }
        let contents = try SQLiteBackup.copy(from: database, to: directory + "/" + databaseName)
        var keyFiles: [String] = []
        if config.keyEnv == nil {
            for suffix in ["", ".next", ".previous"] where FileManager.default.fileExists(atPath: keySource + suffix) {
                try AESGCMSealer.writeKey(
                    try AESGCMSealer.readKey(keySource + suffix),
                    to: (keyDirectory ?? directory) + "/" + keyName + suffix)
                keyFiles.append(keyName + suffix)
            }
        }
        let manifest = Manifest(
            format: 1, createdAt: ISO8601DateFormatter().string(from: Date()), database: databaseName,
            keyFiles: keyFiles, keyID: Int(keyID), keyApart: keyFiles.isEmpty ? nil : true, sessions: contents.sessions,
            events: contents.events,
            notifications: contents.notifications, migrations: contents.migrations)
        try writeFile(directory + "/" + manifestName, try encoder.encode(manifest))
        fsyncDirectory(directory)
        if let keyDirectory, !keyFiles.isEmpty { fsyncDirectory(keyDirectory) }
        var text =
            "backed up \(contents.sessions) sessions, \(contents.events) events and \(contents.notifications) "
            + "notifications into \(directory)"
        text +=
            keyFiles.isEmpty
            ? "\nthe key is not in the backup (it comes from $\(config.keyEnv ?? "")): keep it with the backup, apart"
            : "\nthe key is in \(keyDirectory ?? directory), not in the backup: store it apart from the backup (restore "
                + "takes it with --key-from)"
        return text
    }

    /// Restores the backup in `directory` into the installation `config` names. Refuses while an instance runs on
    /// it (its lock, or a live process holding the database open), and refuses to replace data without `force`.
    /// `keyDirectory` is where `--key-to` put the key files (a backup that holds its key needs none).
    public static func restore(config: VigilConfig, from directory: String, keyFrom keyDirectory: String?, force: Bool)
        throws -> String
    {
        try requireSQLite(config)
        guard let data = FileManager.default.contents(atPath: directory + "/" + manifestName),
            let manifest = try? JSONDecoder().decode(Manifest.self, from: data), manifest.format == 1
        else {
            throw VigilError.invalid("\(directory) is not a Vigil backup (no readable \(manifestName))")
        }
        let source = directory + "/" + manifest.database
        guard !manifest.database.contains("/"), manifest.keyFiles.allSatisfy({ !$0.contains("/") }) else {
            throw VigilError.invalid("the manifest of \(directory) names files outside it")
        }
        let contents = try SQLiteBackup.inspect(source)
        let known = SQLiteBackup.knownMigrations
        if let unknown = contents.migrations.first(where: { !known.contains($0) }) {
            throw VigilError.invalid(
                "the backup's schema has a migration this version does not know (\(unknown)): it was made by a newer "
                    + "Vigil; restore it with that version")
        }
        // The key this installation will open the data with must be the one that sealed it.
        let keyTarget = keyFile(config)
        let keySource: String
        if manifest.keyApart == true, config.keyEnv == nil {
            guard let keyDirectory else {
                throw VigilError.invalid(
                    "the backup's key was stored apart from it: name its directory with --key-from")
            }
            keySource = keyDirectory
        } else {
            keySource = directory
        }
        let keyID: UInt8
        if let env = config.keyEnv {
            let (sealer, _) = try AESGCMSealer.load(
                keyEnv: env, keyFile: keyTarget, environment: ProcessInfo.processInfo.environment)
            keyID = sealer.currentKeyID
        } else {
            guard manifest.keyFiles.contains(keyName) else {
                throw VigilError.invalid(
                    "the backup holds no key file (its instance read the key from the environment): configure "
                        + "encryption.key_env with that key to restore it")
            }
            keyID = AESGCMSealer.id(of: try AESGCMSealer.readKey(keySource + "/" + keyName))
        }
        guard Int(keyID) == manifest.keyID else {
            throw VigilError.invalid(
                "the key \(config.keyEnv.map { "in $\($0)" } ?? "in the backup") is not the key that sealed the "
                    + "backup's data")
        }

        let database = config.sqlitePath
        try prepareDataDirectory((database as NSString).deletingLastPathComponent)
        let lock = try InstanceLock.exclusive(database: database)
        let holders = InstanceLock.processesHolding([database, database + "-wal"])
        if let pid = holders.first {
            throw VigilError.conflict(
                "a running process (pid \(pid)) has \(database) open: stop the instance before restoring into its data")
        }
        let existing = [database, database + "-wal"] + (config.keyEnv == nil ? [keyTarget] : [])
        if !force, let present = existing.first(where: { FileManager.default.fileExists(atPath: $0) }) {
            throw VigilError.conflict(
                "\(present) already exists: restoring would replace it; move it away, or pass --force to replace it")
        }
        // The copy is made beside the database and renamed over it: an interrupted restore leaves the old data or
        // the new, never a mixture. The old -wal and -shm must go first: SQLite would replay them onto the new file.
        let temporary = database + ".restoring"
        try? FileManager.default.removeItem(atPath: temporary)
        let restored = try SQLiteBackup.copy(from: source, to: temporary)
        guard restored.sessions == manifest.sessions, restored.events == manifest.events else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw VigilError.invalid("the backup's database does not hold what its manifest says; it is not whole")
        }
        if config.keyEnv == nil {
            for name in manifest.keyFiles {
                let suffix = String(name.dropFirst(keyName.count))
                let target = keyTarget + suffix
                try AESGCMSealer.writeKey(try AESGCMSealer.readKey(keySource + "/" + name), to: target + ".restoring")
                guard rename(target + ".restoring", target) == 0 else {
                    throw VigilError.unavailable("cannot put the key in place at \(target)")
                }
            }
            for suffix in [".next", ".previous"] where !manifest.keyFiles.contains(keyName + suffix) {
                try? FileManager.default.removeItem(atPath: keyTarget + suffix)
            }
        }
        for stale in [database + "-wal", database + "-shm", database + "-journal"] {
            try? FileManager.default.removeItem(atPath: stale)
        }
        guard rename(temporary, database) == 0 else {
            throw VigilError.unavailable("cannot put the database in place at \(database)")
        }
        fsyncDirectory((database as NSString).deletingLastPathComponent)
        withExtendedLifetime(lock) {}
        return "restored \(restored.sessions) sessions, \(restored.events) events and \(restored.notifications) "
            + "notifications (backup of \(manifest.createdAt)) into \(database); start the service: pending "
            + "migrations run at start"
    }

    // MARK: Helpers

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }

    static func requireSQLite(_ config: VigilConfig) throws {
        if config.postgres != nil {
            throw VigilError.invalid(
                "backup and restore work on SQLite installations; back PostgreSQL up with pg_dump (see ops/UPGRADING.md)"
            )
        }
    }

    /// Whether `path` is `directory` or inside it.
    static func isInside(_ path: String, _ directory: String) -> Bool {
        func absolute(_ p: String) -> String {
            let full = p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
            return URL(fileURLWithPath: full).standardizedFileURL.resolvingSymlinksInPath().path
        }
        let p = absolute(path)
        let d = absolute(directory)
        return p == d || p.hasPrefix(d.hasSuffix("/") ? d : d + "/")
    }

    static func keyFile(_ config: VigilConfig) -> String {
        let dir = (config.sqlitePath as NSString).deletingLastPathComponent
        return config.keyFile ?? ((dir.isEmpty ? "." : dir) + "/vigil.key")
    }

    /// A backup goes into a new or empty directory, readable by its owner only: it holds the key.
    static func prepareEmptyDirectory(_ directory: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw VigilError.invalid("\(directory) is not a directory") }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            guard entries.isEmpty else {
                throw VigilError.conflict("\(directory) is not empty: back up into a new or empty directory")
            }
            _ = chmod(directory, 0o700)
        } else {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw VigilError.unavailable("cannot create \(directory): \(error.localizedDescription)")
            }
        }
    }

    /// The data directory is created (mode 0700) when missing, never its parent: a mistyped path is an error.
    static func prepareDataDirectory(_ dir: String) throws {
        guard !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) else { return }
        let parent = (dir as NSString).deletingLastPathComponent
        if !parent.isEmpty && !FileManager.default.fileExists(atPath: parent) {
            throw VigilError.invalid("the data directory \(dir) is missing and so is its parent \(parent)")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw VigilError.unavailable("cannot create the data directory \(dir): \(error.localizedDescription)")
        }
    }

    static func writeFile(_ path: String, _ data: Data) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VigilError.unavailable("cannot create \(path)") }
        defer { close(fd) }
        let bytes = Array(data)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw VigilError.unavailable("cannot write \(path)")
        }
    }

    static func fsyncDirectory(_ dir: String) {
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
