import Foundation
import Logging
import VigilCore
import VigilPostgres

/// `vigil keys rotate` on PostgreSQL: one rotation for every instance. First every instance is given the new key
/// as `key_file` (or `key_env`) and the current one as `previous_key_file` (or `previous_key_env`), restarted one
/// at a time; they go on sealing with the key the database names. The rotation then names the new key (its id
/// and check value) in the database, waits until every live instance seals with it, re-seals every row in short
/// batches while they serve, and retires the old key only when no row is sealed with it.
enum PostgresKeyRotation {
    /// How recently an instance must have reported its keys to count as live.
    static let liveWithin = 10
    /// How long to wait for every live instance to seal with the new key.
    static let switchTimeout: Duration = .seconds(30)
    /// A write sealed just before an instance switched may commit a moment later: wait this long before counting.
    static let settle: Duration = .seconds(3)

    static func run(config: VigilConfig, _ postgres: PostgresSettings) async throws -> String {
        guard config.previousKeyEnv != nil || config.previousKeyFile != nil else {
            throw VigilError.invalid(
                "on PostgreSQL give the new key as encryption.key_file (or key_env) and the current one as "
                    + "encryption.previous_key_file (or previous_key_env), give both to every instance and restart "
                    + "them one at a time, then run vigil keys rotate with that configuration; nothing was changed")
        }
        let ring = try KeyRing.load(config, environment: ProcessInfo.processInfo.environment)
        let newID = ring.primaryID
        let configuration = try PostgresStoreConfiguration(
            url: postgres.url, password: postgres.password,
            tls: postgres.caFile.map { .verifyFull(caFile: $0) } ?? .disable)
        return try await PostgresStore.withStore(
            configuration: configuration, sealer: ring, keyID: KeyRing.name(of: newID),
            logger: Logger(label: "vigil.postgres")
        ) { store in
            let keys = try await store.storedKeys()
            guard let current = PostgresStore.keyByte(of: keys.check) else {
                throw VigilError.invalid("the database's key check value is not in a known format")
            }
            if current != newID {
                guard keys.previousKeyID == nil else {
                    throw VigilError.invalid(
                        "the database is still retiring key \(keys.previousKeyID ?? "?"): finish that rotation first "
                            + "(run vigil keys rotate with its keys)")
                }
                guard ring.sealWith(current) else {
                    throw VigilError.invalid("the previous key is not the database's key (\(keys.keyID))")
                }
                let lacking = try await store.keyHolders(seenWithin: liveWithin).filter { !$0.opens.contains(newID) }
                guard lacking.isEmpty else {
                    throw VigilError.invalid(
                        "instance(s) \(lacking.map(\.instance).sorted().joined(separator: ", ")) do not hold the new "
                            + "key yet: give every instance the new key_file and the previous_key_file and restart "
                            + "them one at a time, then run this again; nothing was changed")
                }
                ring.sealWith(newID)
                let check = try ring.seal(PostgresStore.keyCheckText)
                guard try await store.beginKeyRotation(from: keys.keyID, to: KeyRing.name(of: newID), check: check)
                else { throw VigilError.unavailable("the database's key changed meanwhile; run this again") }
            }
            ring.sealWith(newID)
            let deadline = ContinuousClock.now + switchTimeout
            while true {
                let late = try await store.keyHolders(seenWithin: liveWithin).filter { $0.seals != newID }
                if late.isEmpty { break }
                guard ContinuousClock.now < deadline else {
                    throw VigilError.unavailable(
                        "instance(s) \(late.map(\.instance).sorted().joined(separator: ", ")) still seal with the old "
                            + "key: the rotation has begun and every blob still opens; run this again to finish it")
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            var resealed = 0
            for _ in 0..<10 {
                resealed += try await store.resealAll(keeping: newID)
                try await Task.sleep(for: settle)
                if try await store.countSealed(notWith: newID) == 0 {
                    try await store.retirePreviousKey(current: KeyRing.name(of: newID))
                    return "re-sealed \(resealed) blobs: key id \(current) -> \(newID); the old key is retired: remove "
                        + "encryption.previous_key_file (or previous_key_env) from every instance's configuration"
                }
            }
            throw VigilError.unavailable(
                "blobs are still sealed with the old key after ten passes; every blob still opens: run this again")
        }
    }
}
