import Foundation
import Testing
import VigilCore
import VigilRuntime

@Suite("configuration: routes, the closed loop and follow-up")
struct ConfigRoutesTests {
    static let head = """
        auth: {tokens: [{name: a, role: operator, token_env: OP}]}
        targets:
          ems-il: {url: "https://e.example/x", secret_env: EMS, accept_timeout_s: 90, arrival_timeout_s: 1800}
          ems-square: {url: "https://e.example/y", secret_env: EMS}
          ems-any: {url: "https://e.example/z", secret_env: EMS}
        policies:
          default: {steps: [{after_s: 0, dispatch: [route, ems-any]}]}

        """

    static func parse(_ tail: String, base: String? = nil) throws -> VigilConfig {
        try ConfigLoader.parse(Self.head + tail, environment: ConfigTests.env, baseDirectory: base)
    }

    @Test("routes, loop timeouts and follow_up reach the table and every policy")
    func parses() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-routes-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}"#.write(
            toFile: dir + "/sq.geojson", atomically: true, encoding: .utf8)
        let c = try Self.parse(
            """
            routes:
              - {polygon_file: "sq.geojson", target: ems-square}
              - {country: US, region: IL, target: ems-il}
              - {default: ems-any}
            follow_up: {after_s: 3600}
            """, base: dir)
        let table = try #require(c.routes)
        #expect(table.rules.count == 3)
        #expect(table.resolve(Location(address: "x", latitude: 0.5, longitude: 0.5))?.target == "ems-square")
        #expect(table.resolve(Location(address: "x", region: "il", country: "us"))?.target == "ems-il")
        let p = try #require(c.policies["default"])
        #expect(p.loops?["ems-il"] == LoopTimeouts(accept: .seconds(90), arrival: .seconds(1800)))
        #expect(p.loops?["ems-square"] == nil)
        #expect(p.followUpAfter == .seconds(3600))
    }

    @Test(
        "bad routes are refused, each with its line",
        arguments: [
            ("routes:\n  - {country: US, target: nowhere}", 9, "unknown target \"nowhere\""),
            ("routes:\n  - {default: nowhere}", 9, "unknown target \"nowhere\""),
            ("routes:\n  - {polygon_file: \"missing.geojson\", target: ems-il}", 9, "cannot read missing.geojson"),
            ("routes:\n  - {target: ems-il}", 9, "needs polygon_file, country, region or postal_code_prefix"),
            ("routes:\n  - {country: US, colour: red, target: ems-il}", 9, "unknown key \"colour\""),
            ("routes: {default: ems-any}", 8, "routes must be a list"),
            ("follow_up: {after_s: -1}", 8, "follow_up.after_s must be between"),
        ])
    func refuses(_ tail: String, line: Int, fragment: String) {
        do {
            _ = try Self.parse(tail)
            Issue.record("expected an error")
        } catch let e as ConfigErrors {
            #expect(e.issues.contains { $0.line == line && $0.message.contains(fragment) }, "\(e)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("a dispatch step naming route needs routes:")
    func routeWordNeedsRoutes() {
        #expect(throws: ConfigErrors.self) { try Self.parse("") }
    }

    @Test("a negative or absurd accept_timeout_s is refused")
    func badTimeout() {
        let yaml = Self.head.replacingOccurrences(of: "accept_timeout_s: 90", with: "accept_timeout_s: -5")
        #expect(throws: ConfigErrors.self) {
            try ConfigLoader.parse(
                yaml + "routes: [{default: ems-any}]", environment: ConfigTests.env, baseDirectory: nil)
        }
    }
}
