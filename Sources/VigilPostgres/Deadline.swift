import PostgresNIO
import Synchronization
import VigilCore

/// Runs an operation against a deadline, answering at the deadline even when the operation never returns.
///
/// A task group would not do: it waits for every child before it returns, and a query whose connection went quiet
/// behind a proxy never finishes (postgres-nio's in-flight query does not react to cancellation). So the operation
/// runs in its own task, the caller waits on a continuation that the first of "done", "deadline" and "cancelled"
/// resumes, and at the deadline `onTimeout` closes the connection so that the stuck task ends too.
enum Deadline {
    static func run<T: Sendable>(
        _ timeout: Duration, what: String, onTimeout: @escaping @Sendable () -> Void,
        _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let gate = Gate<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
                gate.install(cont)
                let timer = Task {
                    try? await Task.sleep(for: timeout)
                    if Task.isCancelled { return }
                    let error = VigilError.unavailable(
                        "the database did not answer within \(PostgresStoreConfiguration.millis(timeout)) ms (\(what))")
                    if gate.finish(.failure(error)) {
                        onTimeout()
                        gate.cancelWork()
                    }
                }
                let work = Task {
                    let result: Result<T, any Error>
                    do {
                        result = .success(try await operation())
                    } catch {
                        result = .failure(error)
                    }
                    if gate.finish(result) { timer.cancel() }
                }
                gate.setWork(work)
            }
        } onCancel: {
            if gate.finish(.failure(CancellationError())) { gate.cancelWork() }
        }
    }

    /// Resumes the continuation exactly once, whoever comes first; holds an early outcome until it is installed.
    private final class Gate<T: Sendable>: Sendable {
        private struct State {
            var continuation: CheckedContinuation<T, any Error>?
            var outcome: Result<T, any Error>?
            var finished = false
            var work: Task<Void, Never>?
            var cancelWork = false
        }
        private let state = Mutex(State())

        func install(_ c: CheckedContinuation<T, any Error>) {
            let early = state.withLock { s -> Result<T, any Error>? in
                if let o = s.outcome {
                    s.outcome = nil
                    return o
                }
                s.continuation = c
                return nil
            }
            if let early { c.resume(with: early) }
        }

        /// True when this call decided the outcome.
        func finish(_ r: Result<T, any Error>) -> Bool {
            let (won, c) = state.withLock { s -> (Bool, CheckedContinuation<T, any Error>?) in
                if s.finished { return (false, nil) }
                s.finished = true
                if let c = s.continuation {
                    s.continuation = nil
                    return (true, c)
                }
                s.outcome = r
                return (true, nil)
            }
            c?.resume(with: r)
            return won
        }

        func setWork(_ t: Task<Void, Never>) {
            let cancel = state.withLock { s -> Bool in
                s.work = t
                return s.cancelWork
            }
            if cancel { t.cancel() }
        }

        func cancelWork() {
            let t = state.withLock { s -> Task<Void, Never>? in
                s.cancelWork = true
                return s.work
            }
            t?.cancel()
        }
    }
}

/// The connection a call is using, so that a missed deadline can close it; once closed, a connection that arrives
/// late is closed at once.
final class ConnectionSlot: Sendable {
    private struct State {
        var connection: PostgresConnection?
        var closed = false
    }
    private let state = Mutex(State())

    /// Holds `c`, or closes it when the slot was already closed.
    func set(_ c: PostgresConnection) {
        let closeNow = state.withLock { s -> Bool in
            if s.closed { return true }
            s.connection = c
            return false
        }
        if closeNow { Self.close(c) }
    }

    /// Forgets the connection (it goes back to the pool).
    func clear() { state.withLock { $0.connection = nil } }

    /// Closes the connection in use, if any: its in-flight query fails and the pool replaces it.
    func close() {
        let c = state.withLock { s -> PostgresConnection? in
            s.closed = true
            defer { s.connection = nil }
            return s.connection
        }
        if let c { Self.close(c) }
    }

    /// Closes `c` and keeps it alive until the close completes (a connection must not go away still open).
    static func close(_ c: PostgresConnection) {
        let closed: EventLoopFuture<Void> = c.close()
        closed.whenComplete { _ in withExtendedLifetime(c) {} }
    }
}
