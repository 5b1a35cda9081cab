import Foundation
import Testing
import VigilCore

@testable import VigilRuntime

// Serialized: a child spawned by one test holds copies of every descriptor until it execs, the lock's among them.
@Suite("the instance lock beside a SQLite database", .serialized)
struct InstanceLockTests {
    static func database() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent("vigil.sqlite").path
    }

    @Test("a serving instance blocks a second instance and a restore, and each refusal names it and its pid")
    func servingIsExclusive() throws {
        let db = try Self.database()
        let serving = try InstanceLock.serving(database: db, holder: "vigil serve on 127.0.0.1:8080")
        for attempt in [
            { _ = try InstanceLock.serving(database: db) },
            { _ = try InstanceLock.exclusive(database: db) },
        ] as [() throws -> Void] {
            do {
                try attempt()
                Issue.record("a second holder took the lock beside a serving instance")
            } catch let e as VigilError {
                #expect(e.code == .conflict)
                #expect(e.message.contains("pid \(getpid())"))
                #expect(e.message.contains("vigil serve on 127.0.0.1:8080"))
            }
        }
        withExtendedLifetime(serving) {}
    }

    @Test("a restore blocks a start, and both are free again once the holder lets go")
    func restoreBlocksServing() throws {
        let db = try Self.database()
        do {
            let restore = try InstanceLock.exclusive(database: db)
            #expect(throws: VigilError.self) { _ = try InstanceLock.serving(database: db) }
            withExtendedLifetime(restore) {}
        }
        // A process forked elsewhere in this test run holds a copy of the descriptor until it execs: allow it that.
        var serving: InstanceLock?
        for _ in 0..<100 where serving == nil {
            serving = try? InstanceLock.serving(database: db)
            if serving == nil { usleep(20_000) }
        }
        #expect(serving != nil)
    }

    @Test("a process holding the database open is found through /proc")
    func holders() throws {
        let db = try Self.database()
        _ = FileManager.default.createFile(atPath: db, contents: Data())
        #expect(InstanceLock.processesHolding([db]).isEmpty)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", "exec sleep 30 3<\"$0\"", db]
        try child.run()
        defer { child.terminate() }
        var found: [Int32] = []
        for _ in 0..<100 where found.isEmpty {
            found = InstanceLock.processesHolding([db])
            if found.isEmpty { usleep(20_000) }
        }
        #expect(found == [child.processIdentifier])
    }
}
