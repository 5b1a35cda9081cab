import Crypto
import Foundation
import VigilCore

/// AES-256-GCM for confidential data at rest: a version byte, then nonce, ciphertext and tag.
public struct AESGCMSealer: DataSealer {
    private let key: SymmetricKey

    /// A sealer from 32 key bytes.
    public init(key: [UInt8]) throws {
        guard key.count == 32 else { throw VigilError.invalid("the encryption key must be 32 bytes") }
        self.key = SymmetricKey(data: key)
    }

    /// A secret for another purpose (`label`), derived from the key: the same on every instance given the same key.
    public func derivedSecret(_ label: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: key))
    }

    public func seal(_ plain: [UInt8]) throws -> [UInt8] {
        let box = try AES.GCM.seal(plain, using: key)
        guard let combined = box.combined else { throw VigilError(.internalError, "sealing failed") }
        return [1] + Array(combined)
    }

    public func open(_ sealed: [UInt8]) throws -> [UInt8] {
        if sealed.isEmpty { return [] }
        guard sealed.first == 1 else { throw VigilError(.internalError, "unknown sealed format") }
        let box = try AES.GCM.SealedBox(combined: sealed.dropFirst())
        return Array(try AES.GCM.open(box, using: key))
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
            // A key that others can read protects nothing: refuse it rather than run with it.
            var st = stat()
            guard stat(keyFile, &st) == 0 else {
                throw VigilError.unavailable("cannot read the encryption key file \(keyFile)")
            }
            if st.st_mode & 0o077 != 0 {
                throw VigilError.invalid(
                    "the encryption key file \(keyFile) is readable by group or others (mode "
                        + String(st.st_mode & 0o777, radix: 8) + "); run: chmod 600 \(keyFile)")
            }
        }
        if let data = FileManager.default.contents(atPath: keyFile) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let bytes = Data(base64Encoded: text) else {
                throw VigilError.invalid("the encryption key file \(keyFile) must hold 32 bytes in base64")
            }
            return (try AESGCMSealer(key: Array(bytes)), false)
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
}
