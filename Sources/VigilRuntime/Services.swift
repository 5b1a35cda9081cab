import Logging
import ServiceLifecycle

/// A service that runs `body` every `interval` until shutdown.
struct LoopService: Service {
    let name: String
    let interval: Duration
    let body: @Sendable () async -> Void

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await body()
                try await Task.sleep(for: interval)
            }
        }
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
