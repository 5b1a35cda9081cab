import Foundation
import VigilCore

#if canImport(Glibc)
    import Glibc
#endif

/// The lock beside a SQLite database (`<database>.lock`, naming its holder: pid and what it runs): `vigil serve`
/// holds it exclusively for its whole life, and so do `vigil restore`, `vigil keys rotate` and `vigil migrate`, so
/// that one instance serves a database at a time (two would both send every webhook), and a command that rewrites
/// or copies the data never runs under a live instance. The kernel drops the lock when its process ends, even by
/// `kill -9`: a stale file blocks nothing.
final class InstanceLock: Sendable {
    private let fd: Int32
    /// The lock file's path.
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// The lock file of a database.
    static func path(forDatabase database: String) -> String { database + ".lock" }

    /// Takes the lock for a serving instance (`holder` says what serves, e.g. `vigil serve on 127.0.0.1:8080`);
    /// throws, naming the holder, when another instance serves the database or a command holds it.
    static func serving(database: String, holder: String = "vigil serve") throws -> InstanceLock {
        try exclusive(database: database, holder: holder, purpose: "starting a second instance on it")
    }

    /// Takes the lock exclusively for `holder` (a restore, a key rotation, a migration); throws, naming the live
    /// holder and its pid, when an instance serves the database or another command holds it. `purpose` ends the
    /// refusal's sentence ("stop it before …").
    static func exclusive(
        database: String, holder: String = "vigil restore", purpose: String = "restoring into its data"
    ) throws -> InstanceLock {
        let lock = try open(database: database)
        guard flock(lock.fd, LOCK_EX | LOCK_NB) == 0 else {
            let who = lock.recordedHolder()
            let pid = who.pid.map { " (pid \($0)\(who.what.map { ", \($0)" } ?? ""))" } ?? ""
            throw VigilError.conflict(
                "a vigil instance is running on \(database)\(pid): stop it before \(purpose)")
        }
        lock.record(holder)
        return lock
    }

    private static func open(database: String) throws -> InstanceLock {
        let path = path(forDatabase: database)
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw VigilError.unavailable("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        return InstanceLock(fd: fd, path: path)
    }

    /// Writes who holds the lock: the pid on the first line, what it runs on the second.
    private func record(_ holder: String) {
        let text = Array("\(getpid())\n\(holder)\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.count, 0)
    }

    /// The pid and what it runs, as the holder wrote them (an older Vigil wrote only the pid).
    private func recordedHolder() -> (pid: Int32?, what: String?) {
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return (nil, nil) }
        let lines = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let what = lines.count > 1 && !lines[1].isEmpty ? String(lines[1].prefix(200)) : nil
        return (lines.first.flatMap { Int32($0) }, what)
    }

    /// Throws, naming the pid, when a live process other than this one has the database open (an instance of an
    /// older Vigil takes no lock).
    static func refuseOtherHolders(of database: String, purpose: String) throws {
        if let pid = processesHolding([database, database + "-wal"]).first {
            throw VigilError.conflict(
                "a running process (pid \(pid)) has \(database) open: stop the instance before \(purpose)")
        }
    }

    /// Live processes (other than this one) that hold any of `paths` open, found through `/proc/*/fd`: an instance
    /// of an older Vigil that takes no lock is still seen by the database file it keeps open.
    static func processesHolding(_ paths: [String]) -> [Int32] {
        let wanted = Set(paths.map { URL(fileURLWithPath: $0).standardizedFileURL.resolvingSymlinksInPath().path })
        let me = getpid()
        var found: [Int32] = []
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), pid != me else { continue }
            let fdDir = "/proc/\(entry)/fd"
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: fdDir) else { continue }
            for fd in fds {
                if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fdDir + "/" + fd),
                    wanted.contains(target)
                {
                    found.append(pid)
                    break
                }
            }
        }
        return found
    }
}
