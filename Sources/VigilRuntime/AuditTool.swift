import Foundation
import Logging
import VigilCore
import VigilPostgres
import VigilStore

/// `vigil audit export` and `vigil audit verify`: the chained event log read from the configured store (SQLite or
/// PostgreSQL, opened with the installation's key) or from an export's JSON lines.
public enum AuditTool {
    /// Events read from the store at a time.
    static let page = 5000

    /// Calls `body` with the store the configuration names, opened with its key.
    static func withLog<T: Sendable>(config: VigilConfig, _ body: (any AuditLog) async throws -> T) async throws -> T {
        let environment = ProcessInfo.processInfo.environment
        if let settings = config.postgres {
            let (sealer, _) = try AESGCMSealer.load(
                keyEnv: config.keyEnv, keyFile: config.keyFile ?? "", environment: environment)
            var configuration = try PostgresStoreConfiguration(
                url: settings.url, password: settings.password,
                tls: settings.caFile.map { .verifyFull(caFile: $0) } ?? .disable)
            configuration.listens = false
            return try await PostgresStore.withStore(
                configuration: configuration, sealer: sealer, keyID: "aes-256-gcm/\(sealer.currentKeyID)",
                logger: Logger(label: "vigil.audit")
            ) { store in try await body(store) }
        }
        guard FileManager.default.fileExists(atPath: config.sqlitePath) else {
            throw VigilError.invalid("no database at \(config.sqlitePath): is this the configuration of the instance?")
        }
        let keyFile = Backup.keyFile(config)
        if config.keyEnv == nil, !FileManager.default.fileExists(atPath: keyFile) {
            throw VigilError.invalid("no key file at \(keyFile): the events' data cannot be opened without it")
        }
        let (sealer, _) = try AESGCMSealer.load(keyEnv: config.keyEnv, keyFile: keyFile, environment: environment)
        return try await body(try SQLiteStore(path: config.sqlitePath, sealer: sealer))
    }

    /// Writes the events from `from` to `to` (inclusive) as JSON lines, one `write` per line; returns how many.
    public static func export(
        config: VigilConfig, from: Int64?, to: Int64?, write: @escaping @Sendable (String) -> Void
    ) async throws -> Int {
        try await withLog(config: config) { log in
            var cursor = max((from ?? 1) - 1, 0)
            var count = 0
            while true {
                let records = try await log.auditRecords(after: cursor, to: to, limit: page)
                for r in records {
                    write(String(decoding: try CanonicalJSON.bytes(r.json), as: UTF8.self))
                }
                count += records.count
                guard let last = records.last, records.count == page else { break }
                cursor = last.seq
            }
            return count
        }
    }

    /// Verifies the whole log in the configured store.
    public static func verify(config: VigilConfig, now: Timestamp) async throws -> AuditVerifier.Outcome {
        try await withLog(config: config) { log in
            try await verify(log: log, retentionDays: config.retentionDays, now: now)
        }
    }

    /// Verifies the whole log of a store, a page at a time.
    public static func verify(log: any AuditLog, retentionDays: Int, now: Timestamp) async throws
        -> AuditVerifier.Outcome
    {
        var verifier = AuditVerifier(retention: Millis.seconds(Int64(retentionDays) * 86_400))
        let limit = page
        // The next page is read (and its data opened and parsed) while this one is checked: two cores at work.
        var next = Task { try await log.auditRecords(after: 0, to: nil, limit: limit) }
        while true {
            let records = try await next.value
            let more = records.count == limit
            if more, let last = records.last {
                next = Task { try await log.auditRecords(after: last.seq, to: nil, limit: limit) }
            }
            for r in records { verifier.feed(r) }
            if !more { break }
        }
        return verifier.finish(now: now)
    }

    /// Verifies an export's JSON lines. With `partial`, the file may start after seq 1.
    public static func verify(file: String, retentionDays: Int, partial: Bool, now: Timestamp) throws
        -> AuditVerifier.Outcome
    {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw VigilError.invalid("cannot read \(file)") }
        defer { try? handle.close() }
        var verifier = AuditVerifier(retention: Millis.seconds(Int64(retentionDays) * 86_400), partial: partial)
        var buffer: [UInt8] = []
        var line = 0
        func take(_ bytes: ArraySlice<UInt8>) throws {
            line += 1
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { return }
            do {
                verifier.feed(try AuditRecord(json: JSONValue(jsonBytes: Array(bytes))))
            } catch let e as VigilError {
                throw VigilError.invalid("\(file) line \(line): \(e.message)")
            }
        }
        while true {
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            buffer.append(contentsOf: chunk)
            var start = 0
            while let nl = buffer[start...].firstIndex(of: 0x0A) {
                try take(buffer[start..<nl])
                start = nl + 1
            }
            buffer.removeFirst(start)
        }
        if !buffer.isEmpty { try take(buffer[...]) }
        return verifier.finish(now: now)
    }

    /// What `verify` prints, and whether the log follows.
    public static func report(_ o: AuditVerifier.Outcome) -> (text: String, ok: Bool) {
        if let f = o.failure { return ("\(f)", false) }
        let head = "head seq \(o.head.seq) hash \(SHA256Digest.hex(bytes: o.head.hash)) at \(o.head.at?.rfc3339 ?? "-")"
        var text = "ok: \(o.count) events, \(o.purged) purged; \(head)"
        if let first = o.first, first > 1 { text += " (from seq \(first), whose own link was taken as given)" }
        return (text, true)
    }
}
