import Logging
import VigilCore
import VigilPostgres

/// Keeps a PostgreSQL instance sealing with the key the database names, and reports which keys it holds and seals
/// with, so that a rotation (`vigil keys rotate`) knows when every live instance has switched.
struct KeyWatch: Sendable {
    let store: PostgresStore
    let ring: KeyRing
    let instance: String
    let logger: Logger

    /// Before serving: seal with the database's key, and refuse to start without a key whose rows may still exist.
    /// Returns the id of the key it seals with.
    static func adopt(store: PostgresStore, ring: KeyRing) async throws -> UInt8 {
        let keys = try await store.storedKeys()
        guard let current = PostgresStore.keyByte(of: keys.check), ring.sealWith(current) else {
            throw VigilError.invalid(
                "this instance does not hold the database's key (\(keys.keyID)); refusing to start")
        }
        if let previous = keys.previousCheck, (try? ring.open(previous)) != PostgresStore.keyCheckText {
            throw VigilError.invalid(
                "a key rotation is under way and rows may still be sealed with key \(keys.previousKeyID ?? "?"), "
                    + "which this instance is not given: add it as encryption.previous_key_file (or "
                    + "previous_key_env); refusing to start")
        }
        return current
    }

    /// Once a second until cancelled: follow the database's key and report this instance's keys.
    func run() async {
        var missing: String?
        while !Task.isCancelled {
            do {
                let keys = try await store.storedKeys()
                if let current = PostgresStore.keyByte(of: keys.check), current != ring.sealingKeyID {
                    if ring.sealWith(current) {
                        logger.notice("sealing with the database's new key", metadata: ["key": "\(keys.keyID)"])
                        missing = nil
                    } else if missing != keys.keyID {
                        missing = keys.keyID
                        logger.critical(
                            "the database names a key this instance is not given: it cannot open what others seal",
                            metadata: ["key": "\(keys.keyID)"])
                    }
                }
                try await store.reportKeys(instance: instance, opens: ring.keyIDs, seals: ring.sealingKeyID)
            } catch {
                if Task.isCancelled { break }
                logger.debug("cannot read the database's key", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
