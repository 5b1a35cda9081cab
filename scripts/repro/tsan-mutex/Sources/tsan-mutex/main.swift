import Dispatch
import Synchronization

final class Box: Sendable { let m = Mutex<[Int]>([0]) }
let box = Box()
DispatchQueue.concurrentPerform(iterations: 4) { _ in
    for _ in 0..<200_000 { box.m.withLock { $0[0] += 1 } }
}
print("count", box.m.withLock { $0[0] })
