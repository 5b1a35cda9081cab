import Glibc
import Synchronization

/// Stands in for a store's `commit`: returns its input, or throws for every third one.
@Sendable func commit(_ n: Int) async throws -> [Int] {
    if n % 3 == 2 { throw Failure() }
    return [n]
}

struct Failure: Error {}

/// The shape that faults: each child returns its index with its result, and the parent files it by index.
func tuples(_ ns: [Int]) async -> [Result<[Int], any Error>] {
    await withTaskGroup(of: (Int, Result<[Int], any Error>).self) { group in
        for (i, n) in ns.enumerated() {
            group.addTask {
                do { return (i, .success(try await commit(n))) } catch { return (i, .failure(error)) }
            }
        }
        var out = [Result<[Int], any Error>](repeating: .failure(Failure()), count: ns.count)
        for await (i, r) in group {
            guard out.indices.contains(i) else {
                print("FAULT: a child result carries index \(i), outside 0..<\(out.count): no child returned it")
                exit(1)
            }
            out[i] = r
        }
        return out
    }
}

/// The shape Vigil uses instead: children return nothing and file their result under a lock.
func slots(_ ns: [Int]) async -> [Result<[Int], any Error>] {
    let slots = Slots(ns.count)
    await withDiscardingTaskGroup { group in
        for (i, n) in ns.enumerated() {
            group.addTask {
                let r: Result<[Int], any Error>
                do { r = .success(try await commit(n)) } catch { r = .failure(error) }
                slots.results.withLock { $0[i] = r }
            }
        }
    }
    return slots.results.withLock { $0 }
}

final class Slots: Sendable {
    let results: Mutex<[Result<[Int], any Error>]>
    init(_ n: Int) { results = Mutex(.init(repeating: .failure(Failure()), count: n)) }
}

let shape = CommandLine.arguments.dropFirst().first ?? "tuples"
let rounds = 4000
for r in 0..<rounds {
    let ns = Array(0..<(2 + r % 10))
    let out = shape == "slots" ? await slots(ns) : await tuples(ns)
    for (k, o) in out.enumerated() {
        let expected: [Int]? = k % 3 == 2 ? nil : [k]
        if (try? o.get()) != expected {
            print("FAULT: round \(r), child \(k) has a result it did not return")
            exit(1)
        }
    }
}
print("ok: \(shape), \(rounds) groups, every child's result where it belongs")
