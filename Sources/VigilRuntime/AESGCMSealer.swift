import Crypto
import Foundation
import VigilCore
import VigilStore

/// AES-256-GCM for confidential data at rest.
///
/// Format 2: a version byte, a key id byte (the first byte of the key's SHA-256), then nonce, ciphertext and tag,
/// with the blob's context (its table and row) as additional authenticated data. Format 1 (no key id, no context)
/// is still read. A sealer may hold earlier keys for reading only, during `vigil keys rotate`.
public struct AESGCMSealer: DataSealer {
    private let key: SymmetricKey
    private let keyID: UInt8
    private let readOnly: [UInt8: SymmetricKey]

    /// A sealer from 32 key bytes; `alsoOpenWith` are keys that may have sealed existing blobs.
    public init(key: [UInt8], alsoOpenWith others: [[UInt8]] = []) throws {
        guard key.count == 32, others.allSatisfy({ $0.count == 32 }) else {
            throw VigilError.invalid("the encryption key must be 32 bytes")
        }
        self.key = SymmetricKey(data: key)
        self.keyID = Self.id(of: key)
        var r: [UInt8: SymmetricKey] = [:]
        for k in others where Self.id(of: k) != keyID { r[Self.id(of: k)] = SymmetricKey(data: k) }
        readOnly = r
    }

    /// The id byte of a key.
    public static func id(of key: [UInt8]) -> UInt8 { Array(SHA256.hash(data: key)).first ?? 0 }

    /// This sealer's key id.
    public var currentKeyID: UInt8 { keyID }

    /// A secret for another purpose (`label`), derived from the key: the same on every instance given the same key.
    public func derivedSecret(_ label: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: key))
    }

    public func seal(_ plain: [UInt8], context: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(plain, using: key, authenticating: Array(context.utf8))
        guard let combined = box.combined else { throw VigilError(.internalError, "sealing failed") }
        return [2, keyID] + Array(combined)
    }

    public func open(_ sealed: [UInt8], context: String) throws -> [UInt8] {
        if sealed.isEmpty { return [] }
        switch sealed.first {
        case 1:
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst())
            return Array(try AES.GCM.open(box, using: key))
        case 2:
            guard sealed.count > 2 else { throw VigilError(.internalError, "a sealed blob is truncated") }
            let id = sealed[1]
            guard let k = id == keyID ? key : readOnly[id] else {
                throw VigilError(
                    .internalError, "a blob was sealed with another key (id \(id)); this key's id is \(keyID)")
            }
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst(2))
            return Array(try AES.GCM.open(box, using: k, authenticating: Array(context.utf8)))
        default:
            throw VigilError(.internalError, "unknown sealed format")
        }
    }

    /// Loads the key from an environment variable (base64) or a file (base64), creating the file with a new random
    /// key, readable only by its owner, when it does not exist yet.
    public static func load(keyEnv: String?, keyFile: String, environment: [String: String]) throws -> (
        AESGCMSealer, created: Bool
    ) {
        if let name = keyEnv {
            guard let text = environment[name],
                let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))
            else {
                throw VigilError.invalid("the encryption key in \(name) must be 32 bytes in base64")
            }
            return (try AESGCMSealer(key: Array(bytes)), false)
        }
        if FileManager.default.fileExists(atPath: keyFile) {
            // A key that others can read protects nothing: readKey refuses it rather than run with it.
            let bytes = try readKey(keyFile)
            // Keys of an interrupted or recent rotation (`vigil keys rotate`) still open what they sealed.
            let others = try [keyFile + ".next", keyFile + ".previous"].filter {
                FileManager.default.fileExists(atPath: $0)
            }.map(readKey)
            return (try AESGCMSealer(key: bytes, alsoOpenWith: others), false)
        }
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { Array($0) }
        let dir = (keyFile as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try? FileManager.default.createDirectory(
                atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        guard
            FileManager.default.createFile(
                atPath: keyFile, contents: Data((Data(bytes).base64EncodedString() + "\n").utf8),
                attributes: [.posixPermissions: 0o600])
        else { throw VigilError.unavailable("cannot create the encryption key file \(keyFile)") }
        return (try AESGCMSealer(key: bytes), true)
    }

    /// Reads a base64 key file, refusing one that group or others may read.
    static func readKey(_ path: String) throws -> [UInt8] {
        var st = stat()
        guard stat(path, &st) == 0, let data = FileManager.default.contents(atPath: path) else {
            throw VigilError.unavailable("cannot read the encryption key file \(path)")
        }
        if st.st_mode & 0o077 != 0 {
            throw VigilError.invalid(
                "the encryption key file \(path) is readable by group or others (mode "
                    + String(st.st_mode & 0o777, radix: 8) + "); run: chmod 600 \(path)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Data(base64Encoded: text), bytes.count == 32 else {
            throw VigilError.invalid("the encryption key file \(path) must hold 32 bytes in base64")
        }
        return Array(bytes)
    }

    /// Writes a new key file, mode 0600 from its first byte, synced to disk.
    static func writeKey(_ bytes: [UInt8], to path: String) throws {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VigilError.unavailable("cannot create the key file \(path)") }
        defer { close(fd) }
        let text = Array((Data(bytes).base64EncodedString() + "\n").utf8)
        guard write(fd, text, text.count) == text.count, fsync(fd) == 0 else {
            throw VigilError.unavailable("cannot write the key file \(path)")
        }
    }

    /// Re-seals every blob of the SQLite database under a new key: the new key is written beside the old one first
    /// (`.next`), the database re-sealed in one transaction, then the files renamed (the old key kept as
    /// `.previous`). A crash at any point leaves every blob readable: `load` reads all three files.
    public static func rotate(keyFile: String, store open: (AESGCMSealer) throws -> any KeyRotatable) async throws
        -> (sealed: Int, oldID: UInt8, newID: UInt8)
    {
        let old = try readKey(keyFile)
        let next = keyFile + ".next"
        let fresh: [UInt8]
        if FileManager.default.fileExists(atPath: next) {
            fresh = try readKey(next)  // an interrupted rotation: finish it with the key it started
        } else {
            fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            try writeKey(fresh, to: next)
        }
        let reader = try AESGCMSealer(key: old, alsoOpenWith: [fresh])
        let writer = try AESGCMSealer(key: fresh, alsoOpenWith: [old])
        let store = try open(reader)
        let count = try await store.reseal(with: writer)
        _ = rename(keyFile, keyFile + ".previous")
        guard rename(next, keyFile) == 0 else { throw VigilError.unavailable("cannot rename \(next) to \(keyFile)") }
        return (count, id(of: old), id(of: fresh))
    }
}

/// A store whose sealed blobs can be re-sealed under a new key.
public protocol KeyRotatable: Sendable {
    /// Opens every blob with the store's sealer and seals it again with `sealer`, in one transaction; returns how
    /// many blobs.
    func reseal(with sealer: any DataSealer) async throws -> Int
}

extension SQLiteStore: KeyRotatable {}

/// `vigil keys rotate`: the configuration's key file, re-sealed under a new key.
public enum KeyRotation {
    /// Rotates the key of the store `config` names; refuses while an instance serves it.
    public static func run(config: VigilConfig) async throws -> String {
        // On PostgreSQL the key is shared by every instance: re-sealing a SQLite file and swapping the key file
        // would leave the database under a key no instance is given any more.
        if let postgres = config.postgres { return try await PostgresKeyRotation.run(config: config, postgres) }
        guard config.keyEnv == nil else {
            throw VigilError.invalid(
                "the key comes from the environment (encryption.key_env): rotation writes key files; switch to "
                    + "encryption.key_file, or re-seal by running against a key_file copy")
        }
        let dataDir = (config.sqlitePath as NSString).deletingLastPathComponent
        let keyFile = config.keyFile ?? ((dataDir.isEmpty ? "." : dataDir) + "/vigil.key")
        // A live instance would go on sealing with the old key and fail to open what this re-seals: refuse it.
        let lock = try InstanceLock.exclusive(
            database: config.sqlitePath, holder: "vigil keys rotate", purpose: "rotating the key")
        defer { withExtendedLifetime(lock) {} }
        try InstanceLock.refuseOtherHolders(of: config.sqlitePath, purpose: "rotating the key")
        let r = try await AESGCMSealer.rotate(keyFile: keyFile) { reader in
            try SQLiteStore(path: config.sqlitePath, sealer: reader)
        }
        return "re-sealed \(r.sealed) blobs: key id \(r.oldID) -> \(r.newID); the old key is in \(keyFile).previous "
            + "(keep it with your backups of older database copies, or delete it)"
    }
}
