import Testing
import VigilCore
import VigilRuntime

@Suite("configuration of the console watch")
struct ConsoleConfigTests {
    static let env = ["OP": "operator-token-0123456789"]

    func config(_ extra: String) throws -> VigilConfig {
        try ConfigLoader.parse(
            """
            storage: {sqlite: "/tmp/x/vigil.sqlite"}
            auth:
              tokens:
                - {name: console, role: operator, token_env: OP}
            \(extra)
            """, environment: Self.env, baseDirectory: nil)
    }

    @Test("unattended_after_s defaults to 120 s, takes decimals, and 0 turns it off")
    func unattendedAfter() throws {
        #expect(try config("").unattendedAfter == .seconds(120))
        #expect(try config("unattended_after_s: 2.5").unattendedAfter == Millis(2500))
        #expect(try config("unattended_after_s: 0").unattendedAfter == .zero)
    }

    @Test(
        "a negative, huge or non-numeric unattended_after_s is refused with its line",
        arguments: ["-1", "86401", "soon", "1e400", "[1]"])
    func unattendedAfterRefused(value: String) {
        #expect(throws: ConfigErrors.self) { try config("unattended_after_s: \(value)") }
    }
}
