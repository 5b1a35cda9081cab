import Testing
import VigilCore

@testable import VigilRuntime

@Suite("DeadlineHeap: the timer's logic without the timer")
struct DeadlineHeapTests {
    static func id(_ n: Int) -> SessionID { SessionID(rawValue: "ses_heap\(n)") }

    @Test("due sessions come out in deadline order, with how late each is, and only once")
    func order() {
        var h = DeadlineHeap()
        h.arm(Self.id(3), at: 300)
        h.arm(Self.id(1), at: 100)
        h.arm(Self.id(2), at: 200)
        #expect(h.next() == 100)
        #expect(h.popDue(at: 99).isEmpty)
        let due = h.popDue(at: 250)
        #expect(due.map(\.id) == [Self.id(1), Self.id(2)])
        #expect(due.map(\.late) == [150, 50])
        #expect(h.popDue(at: 250).isEmpty)
        #expect(h.next() == 300)
        #expect(h.pending == 1)
    }

    @Test("re-arming moves a deadline: the old entry is stale and never fires")
    func rearm() {
        var h = DeadlineHeap()
        h.arm(Self.id(1), at: 100)
        h.arm(Self.id(1), at: 500)
        #expect(h.pending == 1)
        #expect(h.entries == 2)
        #expect(h.next() == 500, "the stale 100 is dropped from the top")
        #expect(h.popDue(at: 400).isEmpty)
        #expect(h.popDue(at: 500).map(\.id) == [Self.id(1)])
    }

    @Test("a disarmed session never fires; arming it again counts")
    func disarm() {
        var h = DeadlineHeap()
        h.arm(Self.id(1), at: 100)
        h.disarm(Self.id(1))
        #expect(h.next() == nil)
        #expect(h.popDue(at: 1_000).isEmpty)
        h.arm(Self.id(1), at: 2_000)
        #expect(h.popDue(at: 2_000).map(\.id) == [Self.id(1)])
    }

    @Test("100,000 sessions armed in random order come out sorted")
    func many() {
        var h = DeadlineHeap()
        var rng = SystemRandomNumberGenerator()
        var deadlines: [Int64] = []
        for n in 0..<100_000 {
            let d = Int64.random(in: 0..<1_000_000, using: &rng)
            deadlines.append(d)
            h.arm(Self.id(n), at: d)
        }
        let due = h.popDue(at: 1_000_000)
        #expect(due.count == 100_000)
        let out = due.map { 1_000_000 - $0.late }
        #expect(out == deadlines.sorted())
    }
}
