import Synchronization

/// The one listener a store tells of each commit (`SessionStore.onCommit`), held by reference.
///
/// Not a closure in a `Mutex`: a function value stored in generic storage and read through `withLock`'s `inout`
/// is written back re-abstracted, one more thunk around it on every read; after a million commits, calling the
/// listener went through two million nested thunks (a profile showed 14% of the CPU there, and the stack would
/// have run out). A class reference read under the lock is never re-wrapped.
public final class CommitListener: Sendable {
    private final class Box: Sendable {
        let f: @Sendable ([StoredEvent]) -> Void
        init(_ f: @escaping @Sendable ([StoredEvent]) -> Void) { self.f = f }
    }

    private let box = Mutex<Box?>(nil)

    /// No listener yet.
    public init() {}

    /// Sets the listener (replacing any earlier one).
    public func set(_ f: @escaping @Sendable ([StoredEvent]) -> Void) {
        let b = Box(f)
        box.withLock { $0 = b }
    }

    /// Tells the listener, if any, outside the lock.
    public func notify(_ events: [StoredEvent]) {
        let b = box.withLock { $0 }
        b?.f(events)
    }

    /// Whether a listener is set.
    public var isSet: Bool { box.withLock { $0 != nil } }
}
