import Foundation
import Synchronization
import VigilCore

/// The keys of one PostgreSQL instance: the configured key and, during a rotation, the key being retired. Every
/// blob names the key that sealed it, so either opens what it sealed; which one seals is the one the database
/// names, so that no instance seals with a key another instance may not hold.
final class KeyRing: DataSealer, Sendable {
    private let sealers: [UInt8: AESGCMSealer]
    private let sealing: Atomic<UInt8>
    /// The configured key's id byte.
    let primaryID: UInt8

    /// A ring of `key` and, if given, `previous`; it seals with `key` until told otherwise.
    init(key: [UInt8], previous: [UInt8]?) throws {
        let all = [key] + (previous.map { [$0] } ?? [])
        primaryID = AESGCMSealer.id(of: key)
        if let previous, previous != key, AESGCMSealer.id(of: previous) == primaryID {
            throw VigilError.invalid(
                "the new and the previous key have the same id byte (\(primaryID)): a blob could not say which sealed "
                    + "it; make another new key")
        }
        var s: [UInt8: AESGCMSealer] = [:]
        for k in all { s[AESGCMSealer.id(of: k)] = try AESGCMSealer(key: k, alsoOpenWith: all) }
        sealers = s
        sealing = Atomic(primaryID)
    }

    /// Loads the configured keys (`encryption`: `key_env` or `key_file`, and `previous_key_env` or
    /// `previous_key_file`); never creates one.
    static func load(_ config: VigilConfig, environment: [String: String]) throws -> KeyRing {
        func read(env: String?, file: String?, what: String) throws -> [UInt8]? {
            if let env {
                guard let text = environment[env],
                    let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
                    bytes.count == 32
                else { throw VigilError.invalid("the \(what) in \(env) must be 32 bytes in base64") }
                return Array(bytes)
            }
            guard let file else { return nil }
            guard FileManager.default.fileExists(atPath: file) else {
                throw VigilError.invalid(
                    "the \(what) file \(file) does not exist: on PostgreSQL every instance must be given the same "
                        + "key, so none is ever created")
            }
            return try AESGCMSealer.readKey(file)
        }
        guard let key = try read(env: config.keyEnv, file: config.keyFile, what: "encryption key") else {
            throw VigilError.invalid("PostgreSQL needs encryption.key_env or encryption.key_file")
        }
        let previous = try read(env: config.previousKeyEnv, file: config.previousKeyFile, what: "previous key")
        return try KeyRing(key: key, previous: previous)
    }

    /// The id bytes of the keys it holds.
    var keyIDs: Set<UInt8> { Set(sealers.keys) }

    /// The id byte it seals with now.
    var sealingKeyID: UInt8 { sealing.load(ordering: .acquiring) }

    /// Seals with key `id` from now on; false (and no change) when it does not hold it.
    @discardableResult
    func sealWith(_ id: UInt8) -> Bool {
        guard sealers[id] != nil else { return false }
        sealing.store(id, ordering: .releasing)
        return true
    }

    /// A secret for another purpose, derived from key `id` (the same on every instance that holds it).
    func derivedSecret(_ label: String, key id: UInt8) -> [UInt8]? { sealers[id]?.derivedSecret(label) }

    /// The name the database keeps beside a key's check value.
    static func name(of id: UInt8) -> String { "aes-256-gcm/\(id)" }

    func seal(_ plain: [UInt8], context: String) throws -> [UInt8] {
        guard let s = sealers[sealingKeyID] else { throw VigilError(.internalError, "no sealing key") }
        return try s.seal(plain, context: context)
    }

    func open(_ sealed: [UInt8], context: String) throws -> [UInt8] {
        guard let s = sealers[sealingKeyID] else { throw VigilError(.internalError, "no sealing key") }
        return try s.open(sealed, context: context)
    }
}
