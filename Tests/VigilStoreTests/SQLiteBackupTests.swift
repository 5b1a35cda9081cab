import Foundation
import Testing
import VigilCore
import VigilStore

@Suite("SQLite backups")
struct SQLiteBackupTests {
    @Test("a copy made while the store is open holds every session and event, and passes the integrity check")
    func copyWhileOpen() async throws {
        let path = SQLiteStoreTests.tempPath()
        let store = try SQLiteStore(path: path, sealer: nil)
        for n in 1...3 { _ = try await SQLiteStoreTests.insert(store, SQLiteStoreTests.session(100 + n)) }
        let copy = (path as NSString).deletingLastPathComponent + "/copy.sqlite"
        let contents = try SQLiteBackup.copy(from: path, to: copy)
        #expect(contents.sessions == 3)
        #expect(contents.events == 3)
        #expect(contents.migrations == SQLiteBackup.knownMigrations)
        // The store goes on writing; the copy is the moment it was taken.
        _ = try await SQLiteStoreTests.insert(store, SQLiteStoreTests.session(104))
        #expect(try SQLiteBackup.inspect(copy).sessions == 3)
        let reopened = try SQLiteStore(path: copy, sealer: nil)
        #expect(try await reopened.openSessions().count == 3)
    }

    @Test("a copy never overwrites a file, and a file that is not a Vigil database is refused")
    func refusals() async throws {
        let path = SQLiteStoreTests.tempPath()
        _ = try SQLiteStore(path: path, sealer: nil)
        let dir = (path as NSString).deletingLastPathComponent
        _ = FileManager.default.createFile(atPath: dir + "/taken.sqlite", contents: Data("x".utf8))
        #expect(throws: VigilError.self) { _ = try SQLiteBackup.copy(from: path, to: dir + "/taken.sqlite") }
        #expect(try String(contentsOfFile: dir + "/taken.sqlite", encoding: .utf8) == "x")
        #expect(throws: VigilError.self) { _ = try SQLiteBackup.inspect(dir + "/taken.sqlite") }
        #expect(throws: VigilError.self) { _ = try SQLiteBackup.inspect(dir + "/missing.sqlite") }
    }
}
