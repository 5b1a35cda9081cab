import Foundation
import Testing

@testable import VigilCore

/// The project's own reference stays true: what the code can write is what `docs/` describes.
@Suite("the reference in docs/")
struct ReferenceDocsTests {
    /// The repository's root, from this file's place in it.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("every event type Vigil can write has a row in docs/events.md")
    func everyEventTypeIsDocumented() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/events.md"), encoding: .utf8)
        let rows = Set(
            text.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("| `") else { return nil }
                return line.dropFirst(3).split(separator: "`").first.map(String.init)
            })
        let missing = EventType.allCases.map(\.rawValue).filter { !rows.contains($0) }
        #expect(missing.isEmpty, "not in docs/events.md: \(missing.joined(separator: ", "))")
        let unknown = rows.subtracting(EventType.allCases.map(\.rawValue))
        #expect(unknown.isEmpty, "docs/events.md lists types Vigil never writes: \(unknown.sorted())")
    }
}
