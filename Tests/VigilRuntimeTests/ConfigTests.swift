import Foundation
import Testing
import VigilCore
import VigilRuntime
import VigilStore
import VigilTestKit

@Suite("configuration")
struct ConfigTests {
    static let env = [
        "OP": "operator-token-0123456789", "EMS": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ]

    static let good = """
        listen: "127.0.0.1:9090"
        storage: {sqlite: "/tmp/x/vigil.sqlite"}
        auth:
          tokens:
            - {name: console, role: operator, token_env: OP}
        targets:
          ems: {url: "https://e.example/x", format: cap, secret_env: EMS, timeout_s: 0.5,
                retry: {max_attempts: 3, initial_backoff_s: 0.25, max_backoff_s: 2}}
          sup: {url: "https://s.example/x", format: json, secret_env: EMS}
        policies:
          default:
            ack_timeout_s: 90
            steps:
              - {after_s: 0, notify: [sup]}
              - {after_s: 1.5, dispatch: [ems, sup]}
            on_delivery_failure: [sup]
        """

    @Test("a valid file gives listen, targets, decimal durations and policies")
    func parsesGood() throws {
        let c = try ConfigLoader.parse(Self.good, environment: Self.env, baseDirectory: nil)
        #expect(c.host == "127.0.0.1")
        #expect(c.port == 9090)
        #expect(c.targets["ems"]?.timeout == Millis(500))
        #expect(c.targets["ems"]?.retry.initialBackoff == Millis(250))
        #expect(c.targets["ems"]?.format == .cap)
        let p = try #require(c.policies["default"])
        #expect(p.ackTimeout == .seconds(90))
        #expect(
            p.steps == [
                Step(after: .zero, action: .notify(["sup"])),
                Step(after: Millis(1500), action: .dispatch(["ems", "sup"])),
            ])
        #expect(p.onDeliveryFailure == ["sup"])
        #expect(c.tokens.map(\.name) == ["console"])
    }

    @Test(
        "each error names its line",
        arguments: [
            ("listen: 8080\nauth: {tokens: [{name: a, role: operator, token_env: OP}]}", 1, "listen must be HOST:PORT"),
            ("auth:\n  tokens:\n    - {name: a, role: boss, token_env: OP}", 3, "role must be"),
            (
                "auth:\n  tokens:\n    - {name: a, role: operator, token: plain-text-secret}", 3,
                "never written in the file"
            ),
            ("auth:\n  tokens:\n    - {name: a, role: operator, token_env: MISSING}", 3, "MISSING is not set"),
            (
                "auth: {tokens: [{name: a, role: operator, token_env: OP}]}\npolicies:\n  default:\n    steps:\n      - {after_s: 0, notify: [nobody]}",
                5, "unknown target \"nobody\""
            ),
            ("auth: {tokens: [{name: a, role: operator, token_env: OP}]}\nlisten_port: 3", 2, "unknown key"),
            (
                "auth: {tokens: [{name: a, role: operator, token_env: OP}]}\npolicies:\n  other: {steps: []}", 3,
                "named \"default\""
            ),
            (
                "auth: {tokens: [{name: a, role: operator, token_env: OP}]}\ntargets:\n  t: {url: \"ftp://x\", secret_env: EMS}",
                3, "must start with https://"
            ),
            ("auth: {tokens: [{name: a, role: operator, token_env: OP}]}\ndefault_country: GB", 2, "must be US or CA"),
        ])
    func namesLines(yaml: String, line: Int, fragment: String) {
        do {
            _ = try ConfigLoader.parse(yaml, environment: Self.env, baseDirectory: nil)
            Issue.record("expected an error")
        } catch let e as ConfigErrors {
            #expect(e.issues.contains { $0.line == line && $0.message.contains(fragment) }, "\(e)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("default_country US or CA reads national numbers; without it, none", arguments: ["US", "ca", nil])
    func defaultCountry(value: String?) throws {
        let yaml =
            "auth: {tokens: [{name: a, role: operator, token_env: OP}]}"
            + (value.map { "\ndefault_country: \($0)" } ?? "")
        let c = try ConfigLoader.parse(yaml, environment: Self.env, baseDirectory: nil)
        #expect(c.defaultCountry == value.flatMap { PhoneNumber.Country(rawValue: $0.uppercased()) })
        #expect(value == nil || c.defaultCountry != nil)
    }

    @Test("the built-in default: loopback, SQLite under var/, a generated operator token kept across starts")
    func builtIn() throws {
        let dir = "/tmp/vigil-default-\(Int.random(in: 0..<1_000_000))"
        let a = try ConfigLoader.builtIn(dataDirectory: dir)
        let b = try ConfigLoader.builtIn(dataDirectory: dir)
        #expect(a.host == "127.0.0.1" && a.port == 8080)
        #expect(a.sqlitePath == dir + "/vigil.sqlite")
        #expect(a.generatedToken != nil && a.generatedToken == b.generatedToken)
        #expect(a.policies["default"]?.steps.isEmpty == true)
    }
}

@Suite("encryption at rest")
struct SealerTests {
    @Test("sealed bytes open to the original and do not contain it; tampering is detected")
    func roundTrip() throws {
        let sealer = try AESGCMSealer(key: Array(repeating: 7, count: 32))
        let plain = Array("123 Main St, +15551234567".utf8)
        let sealed = try sealer.seal(plain)
        #expect(try sealer.open(sealed) == plain)
        #expect(!String(decoding: sealed, as: UTF8.self).contains("Main"))
        var bad = sealed
        bad[bad.count - 1] ^= 1
        #expect(throws: (any Error).self) { _ = try sealer.open(bad) }
    }

    @Test("a blob is bound to its table and row: moved elsewhere it does not open")
    func boundToContext() throws {
        let sealer = try AESGCMSealer(key: Array(repeating: 7, count: 32))
        let sealed = try sealer.seal(Array("1 A St".utf8), context: "sessions:ses_a")
        #expect(try sealer.open(sealed, context: "sessions:ses_a") == Array("1 A St".utf8))
        #expect(throws: (any Error).self) { _ = try sealer.open(sealed, context: "sessions:ses_b") }
        #expect(throws: (any Error).self) { _ = try sealer.open(sealed, context: "outbox:ses_a") }
        #expect(sealed[0] == 2 && sealed[1] == sealer.currentKeyID)
    }

    @Test("the key id names the key; a rotation's reader opens both, a stranger's key opens neither")
    func keyIDs() throws {
        let old = Array(repeating: UInt8(7), count: 32)
        let new = Array(repeating: UInt8(9), count: 32)
        let a = try AESGCMSealer(key: old).seal([1, 2, 3], context: "c")
        let b = try AESGCMSealer(key: new).seal([4, 5, 6], context: "c")
        let reader = try AESGCMSealer(key: old, alsoOpenWith: [new])
        #expect(try reader.open(a, context: "c") == [1, 2, 3])
        #expect(try reader.open(b, context: "c") == [4, 5, 6])
        #expect(throws: (any Error).self) { _ = try AESGCMSealer(key: old).open(b, context: "c") }
    }

    @Test("a database re-sealed under a new key opens with it alone, and every row is still there")
    func rotate() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-rotate-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let keyFile = dir + "/vigil.key"
        let (sealer, _) = try AESGCMSealer.load(keyEnv: nil, keyFile: keyFile, environment: [:])
        let store = try SQLiteStore(path: dir + "/v.sqlite", sealer: sealer)
        let time = ManualTime()
        let engine = SessionEngine(
            store: store, scheduler: time, clock: time, policies: ["default": .consoleOnly],
            observer: RecordingObserver())
        let s = try await engine.start(
            StartRequest(
                caller: Caller(alias: "J"), location: Location(address: "1 A St"), interval: .seconds(60),
                grace: .zero, policy: "default", notes: "n"))
        let r = try await AESGCMSealer.rotate(keyFile: keyFile) { reader in
            try SQLiteStore(path: dir + "/v.sqlite", sealer: reader)
        }
        #expect(r.sealed >= 2)
        try FileManager.default.removeItem(atPath: keyFile + ".previous")
        let (rotated, _) = try AESGCMSealer.load(keyEnv: nil, keyFile: keyFile, environment: [:])
        #expect(rotated.currentKeyID == r.newID)
        let reopened = try SQLiteStore(path: dir + "/v.sqlite", sealer: rotated)
        #expect(try await reopened.session(s.id)?.location.address == "1 A St")
        #expect(try await reopened.events(of: s.id).count == 1)
    }
}
