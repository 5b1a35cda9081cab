import Logging
import PostgresNIO
import Synchronization
import VigilCore

// With several hosts in the URL (libpq's `target_session_attrs=read-write`), postgres-nio still connects to one:
// the store asks each host in order, with a connection of its own, whether it is in recovery, and points its pool
// at the first that is not. It then checks every second, through the pool, that the server still accepts writes;
// when it does not (it died, or it was demoted) the hosts are asked again until one has been promoted, and the
// pool is replaced: calls in flight on the old one fail (as they would have anyway), later calls go to the new.
extension PostgresStore {
    /// The pool's client.
    var client: PostgresClient { pool.withLock { $0.client } }

    /// The configuration pointed at the server in use.
    var current: PostgresStoreConfiguration { configuration.at(pool.withLock { $0.endpoint }) }

    /// Keeps the pool on the primary until cancelled (or until its pool is shut down gracefully).
    func followPrimary() async {
        let ended = EndedGeneration()
        var generation = 0
        var running: Task<Void, Never>?
        func start(_ client: PostgresClient, _ gen: Int) -> Task<Void, Never> {
            Task {
                await client.run()
                ended.value.store(gen, ordering: .relaxed)
            }
        }
        running = start(client, generation)
        defer { running?.cancel() }
        var verified = false
        while !Task.isCancelled, ended.value.load(ordering: .relaxed) != generation {
            if verified {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled || ended.value.load(ordering: .relaxed) == generation { return }
                if await poolAcceptsWrites() { continue }
                logger.warning(
                    "PostgreSQL primary lost; looking for the new one",
                    metadata: ["host": "\(pool.withLock { $0.endpoint })"])
                verified = false
            }
            guard let found = await searchPrimary() else {
                try? await Task.sleep(for: .milliseconds(250))
                continue
            }
            verified = true
            if found != pool.withLock({ $0.endpoint }) {
                let next: PostgresClient
                do {
                    next = PostgresClient(
                        configuration: try configuration.at(found).clientConfiguration(), backgroundLogger: logger)
                } catch {
                    logger.error("cannot configure a connection to the new primary", metadata: ["error": "\(error)"])
                    verified = false
                    continue
                }
                generation += 1
                let old = running
                running = start(next, generation)
                pool.withLock { $0 = (next, found) }
                old?.cancel()
            }
            logger.notice("PostgreSQL primary in use", metadata: ["host": "\(found)"])
            primaryFound.continuation.finish()
        }
    }

    /// Whether the pool's server answers and is not in recovery.
    func poolAcceptsWrites() async -> Bool {
        let quiet = self.quiet
        let recovering = try? await call("primary check", timeout: .seconds(2)) { conn -> Bool in
            var r = true
            for try await v in try await conn.query("SELECT pg_is_in_recovery()", logger: quiet).decode(Bool.self) {
                r = v
            }
            return r
        }
        return recovering == false
    }

    /// Asks every host in order; the first that answers and is not in recovery.
    func searchPrimary() async -> PostgresEndpoint? {
        var heard: [String] = []
        defer { lastSearch.withLock { $0 = heard } }
        for (i, endpoint) in configuration.endpoints.enumerated() {
            do {
                if try await !inRecovery(endpoint, id: i) { return endpoint }
                heard.append("\(endpoint): in recovery (a standby)")
            } catch {
                heard.append("\(endpoint): \(Self.map(error))")
            }
        }
        return nil
    }

    /// Asks one host, with a connection of its own, whether it is in recovery.
    func inRecovery(_ endpoint: PostgresEndpoint, id: Int) async throws -> Bool {
        let config = try configuration.at(endpoint).connectionConfiguration(application: "vigil-probe")
        let quiet = self.quiet
        let slot = ConnectionSlot()
        defer { slot.close() }
        let timeout = min(configuration.connectTimeout, .seconds(2)) + .seconds(2)
        return try await Deadline.run(timeout, what: "primary search", onTimeout: { slot.close() }) {
            let c = try await PostgresConnection.connect(configuration: config, id: id, logger: quiet)
            slot.set(c)
            var r = true
            for try await v in try await c.query("SELECT pg_is_in_recovery()", logger: quiet).decode(Bool.self) {
                r = v
            }
            return r
        }
    }

    /// Waits (up to the start's deadline) until a primary was found among the hosts.
    func waitForPrimary() async throws {
        let found = primaryFound.stream
        do {
            try await Deadline.run(configuration.migrationTimeout, what: "a primary among the hosts", onTimeout: {}) {
                for await _ in found {}
            }
        } catch {
            let heard = lastSearch.withLock { $0 }.joined(separator: "; ")
            throw VigilError.unavailable("no PostgreSQL host accepts writes (\(heard))")
        }
    }
}

/// The generation of the last pool whose `run()` ended by itself (a graceful shutdown), -1 for none.
final class EndedGeneration: Sendable {
    let value = Atomic<Int>(-1)
}
