import Foundation
import VigilCore

#if canImport(Glibc)
    import Glibc
#endif

/// The lock beside a SQLite database (`<database>.lock`, holding the pid of the last holder): `vigil serve` holds it
/// shared for its whole life, `vigil restore` exclusively, so that a restore never writes under a running instance
/// and an instance never starts on a half-restored database. The kernel drops the lock when its process ends, even
/// by `kill -9`: a stale file blocks nothing.
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

    /// Takes the lock shared (a serving instance); throws when a restore holds it.
    static func serving(database: String) throws -> InstanceLock {
        let lock = try open(database: database)
        guard flock(lock.fd, LOCK_SH | LOCK_NB) == 0 else {
            throw VigilError.unavailable(
                "a restore is in progress on \(database) (\(lock.path) is locked); start again when it has finished")
        }
        lock.writePID()
        return lock
    }

    /// Takes the lock exclusively (a restore); throws, naming the pid, when an instance serves the database.
    static func exclusive(database: String) throws -> InstanceLock {
        let lock = try open(database: database)
        guard flock(lock.fd, LOCK_EX | LOCK_NB) == 0 else {
            let pid = lock.recordedPID().map { " (pid \($0))" } ?? ""
            throw VigilError.conflict(
                "a vigil instance is running on \(database)\(pid): stop it before restoring into its data")
        }
        lock.writePID()
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

    private func writePID() {
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.count, 0)
    }

    private func recordedPID() -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
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
