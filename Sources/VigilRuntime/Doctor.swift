import Foundation
import Logging
import VigilCore
import VigilDelivery
import VigilPostgres

#if canImport(Glibc)
    import Glibc
#endif

/// One thing `vigil doctor` looked at: fine, or a problem and what to do about it.
public struct DoctorFinding: Sendable {
    /// What was checked (`keys`, `target ems`, `clock`, `disk`, `database`).
    public var check: String
    /// Whether it needs fixing.
    public var problem: Bool
    /// What was found, and for a problem what to do.
    public var detail: String

    /// Creates a finding.
    public init(_ check: String, problem: Bool, _ detail: String) {
        self.check = check
        self.problem = problem
        self.detail = detail
    }
}

/// `vigil doctor`: checks a configuration and its surroundings before (or while) it serves, and says what to fix.
public enum Doctor {
    /// Every finding for the file at `path`; `ping` sends each target a signed `test.ping` (as `vigil targets test`).
    public static func run(configPath path: String, ping: Bool, minFreeBytes: UInt64 = 1 << 30) async
        -> [DoctorFinding]
    {
        let config: VigilConfig
        do {
            config = try ConfigLoader.load(path: path)
        } catch let e as ConfigErrors {
            return e.issues.map {
                DoctorFinding(
                    "configuration", problem: true, "\(path):\($0.line.map(String.init) ?? "-"): \($0.message)")
            }
        } catch {
            return [DoctorFinding("configuration", problem: true, "\(path): \(error)")]
        }
        var out = [
            DoctorFinding(
                "configuration", problem: false,
                "\(path): \(config.tokens.count) tokens, \(config.targets.count) targets, \(config.policies.count) policies"
            )
        ]
        out += config.warnings.map { DoctorFinding("configuration", problem: false, "warning: \($0)") }
        out += fileModes(config)
        if ping {
            for name in config.targets.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
                out.append(await target(path, name.rawValue))
            }
        }
        out.append(clock())
        out.append(disk(config, minFree: minFreeBytes))
        out.append(await database(config))
        return out
    }

    /// The key and the other secrets Vigil reads from files: its owner's alone.
    static func fileModes(_ c: VigilConfig) -> [DoctorFinding] {
        let dataDir = c.postgres == nil ? (c.sqlitePath as NSString).deletingLastPathComponent : ""
        var files: [(String, String)] = []
        if c.keyEnv == nil {
            files.append(("encryption key", c.keyFile ?? ((dataDir.isEmpty ? "." : dataDir) + "/vigil.key")))
        }
        if c.postgres == nil { files.append(("database", c.sqlitePath)) }
        for t in c.targets.values.sorted(by: { $0.name.rawValue < $1.name.rawValue }) {
            if let k = t.tls?.clientKeyFile { files.append(("target \(t.name) client key", k)) }
        }
        var out: [DoctorFinding] = []
        for (what, file) in files {
            guard let attrs = try? FileManager.default.attributesOfItem(atPath: file) else {
                let missing =
                    what == "encryption key" && c.postgres == nil
                    ? "\(file) does not exist yet: it is made at the first start; back it up apart from the database"
                    : "\(file) does not exist yet"
                out.append(DoctorFinding("keys", problem: what.hasSuffix("client key"), "\(what): \(missing)"))
                continue
            }
            let mode = (attrs[.posixPermissions] as? NSNumber)?.intValue ?? 0
            if mode & 0o077 != 0 {
                out.append(
                    DoctorFinding(
                        "keys", problem: true,
                        "\(what): \(file) is readable by others (mode \(String(mode, radix: 8))): chmod 600 \(file)"
                            + (what == "encryption key" ? " (Vigil refuses to start with it)" : "")))
            } else {
                out.append(DoctorFinding("keys", problem: false, "\(what): \(file) is its owner's alone"))
            }
        }
        return out
    }

    /// A signed `test.ping` to one target: its TLS, its signature check and its answer.
    static func target(_ path: String, _ name: String) async -> DoctorFinding {
        do {
            let (ok, report) = try await VigilClient.testTarget(configPath: path, name: name)
            var line = report.split(separator: "\n").first.map(String.init) ?? report
            if line.hasPrefix("target \(name): ") { line.removeFirst("target \(name): ".count) }
            return DoctorFinding(
                "target \(name)", problem: !ok,
                ok ? line : "\(line): check its url, TLS (ca_file, client certificate) and secret with the receiver")
        } catch {
            return DoctorFinding("target \(name)", problem: true, "\(error)")
        }
    }

    /// Whether the system clock is synchronized (NTP): deadlines are anchored to it at start.
    static func clock() -> DoctorFinding {
        if let answer = command("/usr/bin/timedatectl", ["show", "-p", "NTPSynchronized", "--value"]) {
            if answer == "yes" { return DoctorFinding("clock", problem: false, "synchronized (timedatectl)") }
            if answer == "no" {
                return DoctorFinding(
                    "clock", problem: true,
                    "not synchronized (timedatectl): enable systemd-timesyncd or chrony (timedatectl set-ntp true)")
            }
        }
        if let tracking = command("/usr/bin/chronyc", ["-n", "tracking"]) {
            let leap = tracking.split(separator: "\n").first { $0.hasPrefix("Leap status") }
            if leap?.hasSuffix("Normal") == true {
                return DoctorFinding("clock", problem: false, "synchronized (chronyc)")
            }
            return DoctorFinding(
                "clock", problem: true,
                "not synchronized (chronyc: \(leap ?? "no leap status")): check chrony's sources")
        }
        return DoctorFinding(
            "clock", problem: false,
            "cannot tell (neither timedatectl nor chronyc answered): make sure an NTP client keeps this clock right")
    }

    /// Free space where the data lives.
    static func disk(_ c: VigilConfig, minFree: UInt64) -> DoctorFinding {
        guard c.postgres == nil else {
            return DoctorFinding("disk", problem: false, "data in PostgreSQL: watch the database server's disk")
        }
        var dir = (c.sqlitePath as NSString).deletingLastPathComponent
        if dir.isEmpty { dir = "." }
        var probe = dir
        while !FileManager.default.fileExists(atPath: probe), probe != "/", !probe.isEmpty, probe != "." {
            probe = (probe as NSString).deletingLastPathComponent
        }
        var st = statvfs()
        guard statvfs(probe.isEmpty ? "." : probe, &st) == 0 else {
            return DoctorFinding("disk", problem: true, "cannot read the free space of \(dir)")
        }
        let free = UInt64(st.f_bavail) * UInt64(st.f_frsize)
        let mib = free >> 20
        if free < minFree {
            return DoctorFinding(
                "disk", problem: true,
                "\(mib) MiB free where the data lives (\(dir)): a full disk refuses every write; free space or move it")
        }
        return DoctorFinding("disk", problem: false, "\(mib) MiB free where the data lives (\(dir))")
    }

    /// The database: reachable, and (PostgreSQL) its clock within half a second of this machine's.
    static func database(_ c: VigilConfig) async -> DoctorFinding {
        guard let pg = c.postgres else {
            var dir = (c.sqlitePath as NSString).deletingLastPathComponent
            if dir.isEmpty { dir = "." }
            if FileManager.default.fileExists(atPath: c.sqlitePath) {
                return FileManager.default.isReadableFile(atPath: c.sqlitePath)
                    && FileManager.default.isWritableFile(atPath: c.sqlitePath)
                    ? DoctorFinding("database", problem: false, "SQLite \(c.sqlitePath) is readable and writable")
                    : DoctorFinding(
                        "database", problem: true, "SQLite \(c.sqlitePath) is not readable and writable by this user")
            }
            let parent = FileManager.default.fileExists(atPath: dir) ? dir : (dir as NSString).deletingLastPathComponent
            return FileManager.default.isWritableFile(atPath: parent.isEmpty ? "." : parent)
                ? DoctorFinding("database", problem: false, "SQLite \(c.sqlitePath) will be made at the first start")
                : DoctorFinding("database", problem: true, "cannot create \(c.sqlitePath): \(dir) is not writable")
        }
        do {
            let configuration = try PostgresStoreConfiguration(
                url: pg.url, password: pg.password, tls: pg.caFile.map { .verifyFull(caFile: $0) } ?? .disable)
            let sealer = try AESGCMSealer(key: [UInt8](repeating: 0, count: 32))
            let store = try PostgresStore(
                configuration: configuration, sealer: sealer, keyID: "doctor", logger: Logger(label: "vigil.doctor"))
            let skew: Int64 = try await withThrowingTaskGroup(of: Int64?.self) { group in
                group.addTask {
                    try await store.run()
                    return nil
                }
                group.addTask {
                    let before = Date().timeIntervalSince1970
                    let db = try await store.databaseNow()
                    let after = Date().timeIntervalSince1970
                    return db.millis - Int64((before + after) / 2 * 1000)
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    throw VigilError.unavailable("no answer within 10 s")
                }
                var result: Int64?
                while result == nil, let next = try await group.next() { result = next }
                group.cancelAll()
                return result ?? 0
            }
            if abs(skew) > 500 {
                return DoctorFinding(
                    "database", problem: true,
                    "PostgreSQL answers, but its clock is \(skew) ms from this machine's: an instance more than about "
                        + "half a second off stops deciding; synchronize both clocks")
            }
            return DoctorFinding("database", problem: false, "PostgreSQL answers; clock skew \(skew) ms")
        } catch {
            return DoctorFinding(
                "database", problem: true, "PostgreSQL at \(pg.url) cannot be reached: \(error)")
        }
    }

    /// The trimmed standard output of a program, nil when it cannot run or fails.
    static func command(_ path: String, _ arguments: [String]) -> String? {
        guard FileManager.default.isExecutableFile(atPath: path) else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
