import Foundation
import Synchronization
import Testing
import VigilCore
import VigilPostgres

/// A throwaway PostgreSQL 15 cluster from Debian's binaries, started by the test itself on 127.0.0.1 with a free
/// port and password (SCRAM) authentication, its socket and data in a temporary directory; stopped by `stop()`.
///
/// `initdb` runs once per test process into a template that each cluster copies. As root (`initdb` refuses root)
/// the files belong to the `postgres` system user and the binaries run through `runuser`.
final class PostgresCluster: Sendable {
    static let bin = "/usr/lib/postgresql/15/bin"
    static let user = "vigil"
    static let password = "vigil-test-password"

    let dir: String
    let port: Int

    var dataDir: String { dir + "/data" }

    private init(dir: String, port: Int) {
        self.dir = dir
        self.port = port
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts a new cluster; fails (never skips) when PostgreSQL 15 is not installed.
    static func start() async throws -> PostgresCluster {
        let template = try await Template.shared.path()
        var lastError: (any Error)?
        for _ in 0..<3 {
            let dir = NSTemporaryDirectory() + "vigil-pg-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(
                atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            try chownToPostgres(dir)
            try await run(["/bin/cp", "-a", template, dir + "/data"], asPostgres: true)
            let port = try freePort()
            let cluster = PostgresCluster(dir: dir, port: port)
            do {
                try await cluster.pgctl(["start", "-w", "-t", "30", "-l", dir + "/log", "-o", cluster.serverOptions])
                return cluster
            } catch {
                lastError = error
                try? FileManager.default.removeItem(atPath: dir)
            }
        }
        throw lastError ?? Failure(description: "PostgreSQL did not start")
    }

    var serverOptions: String {
        "-p \(port) -k \(dir) -c listen_addresses=127.0.0.1 -c max_connections=60 -c shared_buffers=16MB"
    }

    /// Creates an empty database and returns its name.
    func createDatabase() async throws -> String {
        let name = "vigil_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        try await Self.run(
            [Self.bin + "/createdb", "-h", dir, "-p", "\(port)", "-U", Self.user, name], asPostgres: true)
        return name
    }

    /// A store configuration reaching `database` over TCP with the password; short deadlines for tests.
    func configuration(database: String) -> PostgresStoreConfiguration {
        var c = PostgresStoreConfiguration(
            host: "127.0.0.1", port: port, username: Self.user, password: Self.password, database: database)
        c.callTimeout = .seconds(5)
        c.listenerHeartbeat = .milliseconds(500)
        return c
    }

    /// Runs SQL through `psql` on the unix socket; returns its exit status and output.
    @discardableResult
    func psql(_ database: String, _ sql: String) async throws -> (status: Int32, output: String) {
        try await Self.capture(
            [
                Self.bin + "/psql", "-h", dir, "-p", "\(port)", "-U", Self.user, "-d", database, "-tA",
                "-v", "ON_ERROR_STOP=1", "-c", sql,
            ], asPostgres: true)
    }

    /// Stops the cluster (`immediate`: like a crash) and removes its files.
    func stop(remove: Bool = true) async {
        resume()
        _ = try? await pgctl(["stop", "-m", "immediate", "-w", "-t", "30"])
        if remove { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// The postmaster and every process it started.
    func processes() throws -> [pid_t] {
        let text = try String(contentsOfFile: dataDir + "/postmaster.pid", encoding: .utf8)
        guard let line = text.split(separator: "\n").first, let main = pid_t(line) else {
            throw Failure(description: "no postmaster.pid")
        }
        var pids = [main]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, pid_t(fields[1]) == main { pids.append(pid) }
        }
        return pids
    }

    /// Freezes every server process (SIGSTOP): sockets stay open and the kernel acknowledges, nothing answers.
    func freeze() throws { for pid in try processes() { kill(pid, SIGSTOP) } }

    /// Undoes `freeze()`.
    func resume() { for pid in (try? processes()) ?? [] { kill(pid, SIGCONT) } }

    func pgctl(_ args: [String]) async throws {
        try await Self.run([Self.bin + "/pg_ctl", "-D", dataDir] + args, asPostgres: true)
    }

    // MARK: Processes

    static var isRoot: Bool { getuid() == 0 }

    static func chownToPostgres(_ path: String) throws {
        guard isRoot else { return }
        guard let pw = getpwnam("postgres") else {
            throw Failure(description: "no postgres system user: apt-get install postgresql-15")
        }
        guard chown(path, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else {
            throw Failure(description: "cannot chown \(path) to postgres")
        }
    }

    static func run(_ argv: [String], asPostgres: Bool) async throws {
        let (status, output) = try await capture(argv, asPostgres: asPostgres)
        guard status == 0 else {
            throw Failure(description: "\(argv[0]) failed (\(status)): \(output.suffix(2000))")
        }
    }

    /// Runs a program with stdout and stderr to a file (`pg_ctl start` leaves the server holding them, so a pipe
    /// would never end), waiting on a thread of its own: `posix_spawn` and `waitpid`, since Foundation's `Process`
    /// was seen never to reap its child when several tests ran at once.
    static func capture(_ argv: [String], asPostgres: Bool) async throws -> (status: Int32, output: String) {
        let full = asPostgres && isRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv : argv
        let file = NSTemporaryDirectory() + "vigil-pg-out-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let status = try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Int32, any Error>) in
            let thread = Thread {
                let out = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o666)
                guard out >= 0 else { return cont.resume(throwing: Failure(description: "no temp file")) }
                defer { Glibc.close(out) }
                if asPostgres && isRoot, let pw = getpwnam("postgres") {
                    _ = fchown(out, pw.pointee.pw_uid, pw.pointee.pw_gid)
                }
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                defer { posix_spawn_file_actions_destroy(&actions) }
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                posix_spawn_file_actions_adddup2(&actions, out, 1)
                posix_spawn_file_actions_adddup2(&actions, out, 2)
                var env = ProcessInfo.processInfo.environment
                env["PGPASSWORD"] = nil
                env["LC_ALL"] = "C"
                let cArgs = full.map { strdup($0) } + [nil]
                let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
                defer {
                    for p in cArgs { free(p) }
                    for p in cEnv { free(p) }
                }
                var pid: pid_t = 0
                let rc = posix_spawn(&pid, full[0], &actions, nil, cArgs, cEnv)
                guard rc == 0 else {
                    return cont.resume(throwing: Failure(description: "cannot start \(full[0]): \(rc)"))
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                // WIFEXITED / WEXITSTATUS, spelled out: the macros are not imported.
                cont.resume(returning: (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
            }
            thread.start()
        }
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return (status, text)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                guard bind(fd, p, len) == 0 else { return -1 }
                return getsockname(fd, p, &len)
            }
        }
        guard bound == 0 else { throw Failure(description: "bind failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// The `initdb` output every cluster copies, made once per test process.
    actor Template {
        static let shared = Template()
        private var making: Task<String, any Error>?

        func path() async throws -> String {
            if let making { return try await making.value }
            let task = Task { try await Self.make() }
            making = task
            return try await task.value
        }

        private static func make() async throws -> String {
            guard FileManager.default.isExecutableFile(atPath: PostgresCluster.bin + "/initdb") else {
                throw Failure(
                    description:
                        "PostgreSQL 15 is missing (\(PostgresCluster.bin)/initdb): apt-get install postgresql-15, "
                        + "or run scripts/setup-debian.sh --test")
            }
            // Named for this process; the templates of processes that are gone are removed.
            let prefix = "vigil-pg-template-"
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? [] {
                guard entry.hasPrefix(prefix), let pid = pid_t(entry.dropFirst(prefix.count)),
                    kill(pid, 0) != 0, errno == ESRCH
                else { continue }
                try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + entry)
            }
            let dir = NSTemporaryDirectory() + prefix + "\(getpid())"
            try? FileManager.default.removeItem(atPath: dir)
            templateToRemove.withLock { $0 = dir }
            atexit {
                if let dir = templateToRemove.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: dir) }
            }
            try FileManager.default.createDirectory(
                atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            try PostgresCluster.chownToPostgres(dir)
            let pwfile = dir + "/pw"
            _ = FileManager.default.createFile(
                atPath: pwfile, contents: Data(PostgresCluster.password.utf8), attributes: [.posixPermissions: 0o600])
            try PostgresCluster.chownToPostgres(pwfile)
            try await PostgresCluster.run(
                [
                    PostgresCluster.bin + "/initdb", "-D", dir + "/data", "-U", PostgresCluster.user,
                    "--pwfile=" + pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                    "--no-locale", "--no-sync",
                ], asPostgres: true)
            return dir + "/data"
        }
    }
}

/// The template of this process, removed when it exits.
private let templateToRemove = Mutex<String?>(nil)

/// A cluster for the length of `body`, stopped afterwards whatever happens.
func withCluster<T>(_ body: (PostgresCluster) async throws -> T) async throws -> T {
    let cluster = try await PostgresCluster.start()
    do {
        let r = try await body(cluster)
        await cluster.stop()
        return r
    } catch {
        await cluster.stop()
        throw error
    }
}

/// A stand-in for AES-GCM in tests: XOR with the key and a key-derived tag, so that the wrong key fails to open.
struct TestSealer: DataSealer {
    let key: UInt8

    func seal(_ plain: [UInt8], context: String) throws -> [UInt8] { [0x56, key ^ 0xA5] + plain.map { $0 ^ key } }

    func open(_ sealed: [UInt8], context: String) throws -> [UInt8] {
        if sealed.isEmpty { return [] }
        guard sealed.count >= 2, sealed[0] == 0x56, sealed[1] == key ^ 0xA5 else {
            throw VigilError(.internalError, "wrong key")
        }
        return sealed.dropFirst(2).map { $0 ^ key }
    }
}
