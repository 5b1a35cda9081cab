import Synchronization

/// Runs operations concurrently and returns their results in the operations' order.
///
/// Each child returns nothing and files its result under a lock, in a discarding task group. The obvious shape, a
/// task group whose children return `(index, Result<…, any Error>)`, hands the parent results that no child
/// returned in release builds of Swift 6.3.1 on Linux (a wrong value, or an index that traps when used): a
/// reduced reproduction is `scripts/repro/taskgroup-result`. Every concurrent fan-out in Vigil goes through here.
public enum ConcurrentResults {
    /// Calls `operation(i)` for every `i` in `0..<count` concurrently; result `i` is what `operation(i)` returned
    /// (`unfilled` only if a child ended without filing its result, which a child that returns cannot do).
    public static func map<T: Sendable>(
        _ count: Int, unfilled: T, _ operation: @escaping @Sendable (Int) async -> T
    ) async -> [T] {
        guard count > 0 else { return [] }
        let slots = Slots<T>(count, unfilled)
        await withDiscardingTaskGroup { group in
            for i in 0..<count {
                group.addTask {
                    let r = await operation(i)
                    slots.file(r, at: i)
                }
            }
        }
        return slots.all()
    }

    /// Like `map`, for operations that throw: each result is its own success or failure.
    public static func results<T: Sendable>(
        _ count: Int, _ operation: @escaping @Sendable (Int) async throws -> T
    ) async -> [Result<T, any Error>] {
        await map(count, unfilled: .failure(VigilError.unavailable("the operation did not finish"))) { i in
            do { return .success(try await operation(i)) } catch { return .failure(error) }
        }
    }

    private final class Slots<T: Sendable>: Sendable {
        private let filed: Mutex<[T]>
        init(_ count: Int, _ unfilled: T) { filed = Mutex([T](repeating: unfilled, count: count)) }
        func file(_ value: T, at i: Int) { filed.withLock { $0[i] = value } }
        func all() -> [T] { filed.withLock { $0 } }
    }
}
