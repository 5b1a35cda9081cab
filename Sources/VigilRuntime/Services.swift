import Logging
import ServiceLifecycle

/// A service that runs `body` every `interval` until shutdown.
struct LoopService: Service {
    let name: String
    let interval: Duration
    let body: @Sendable () async -> Void

    func run() async throws {
        // A sleep cut short by shutdown is the normal end of the loop, not a failure: throwing here made every
        // SIGTERM exit with status 1.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await body()
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }
}

/// Waits for graceful shutdown, then runs `body` once.
struct ShutdownHook: Service {
    let body: @Sendable () -> Void

    func run() async throws {
        try? await gracefulShutdown()
        body()
    }
}

/// Wraps a long-running function as a service that stops on graceful shutdown.
struct TaskService: Service {
    let name: String
    let body: @Sendable () async -> Void

    func run() async throws {
        // Cancelling ends the loop: the worker's stream finishes when its task is cancelled.
        await cancelWhenGracefulShutdown { await body() }
    }
}
