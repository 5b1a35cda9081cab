import HeapModule
import VigilCore

/// One deadline per session in a min-heap: the logic of the timer, without the timer, tested without sleeping.
///
/// Re-arming a session pushes a new entry with a higher generation; stale entries are skipped when they surface,
/// so arming is O(log n) and nothing is searched.
struct DeadlineHeap {
    struct Entry: Comparable {
        var deadline: Int64
        var id: SessionID
        var generation: UInt64
        static func < (a: Entry, b: Entry) -> Bool { a.deadline < b.deadline }
        static func == (a: Entry, b: Entry) -> Bool { a.deadline == b.deadline && a.generation == b.generation }
    }

    private var heap = Heap<Entry>()
    private var current: [SessionID: UInt64] = [:]
    private var generation: UInt64 = 0

    /// Sessions with a deadline.
    var pending: Int { current.count }
    /// Entries in the heap, stale ones included.
    var entries: Int { heap.count }

    /// Sets (or moves) the deadline of a session, in milliseconds since the epoch.
    mutating func arm(_ id: SessionID, at deadline: Int64) {
        generation += 1
        current[id] = generation
        heap.insert(Entry(deadline: deadline, id: id, generation: generation))
    }

    /// Removes the deadline of a session.
    mutating func disarm(_ id: SessionID) { current[id] = nil }

    /// The earliest live deadline (stale entries at the top are dropped on the way).
    mutating func next() -> Int64? {
        while let top = heap.min, current[top.id] != top.generation { _ = heap.popMin() }
        return heap.min?.deadline
    }

    /// Removes and returns every session due at `now`, in deadline order, with how late each is.
    mutating func popDue(at now: Int64) -> [(id: SessionID, late: Int64)] {
        var due: [(id: SessionID, late: Int64)] = []
        while let top = heap.min, top.deadline <= now {
            _ = heap.popMin()
            guard current[top.id] == top.generation else { continue }
            current[top.id] = nil
            due.append((top.id, now - top.deadline))
        }
        return due
    }
}
