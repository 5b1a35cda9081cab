import Testing
import VigilCore
import VigilRuntime

/// `slo:` sets the objectives; anything else under it, or a number out of range, is refused by name. The keys being
/// retired (`previous_key_*`) belong to a PostgreSQL rotation only.
@Suite("service levels and keys: configuration")
struct ServiceLevelConfigTests {
    static let env = ["OP": "operator-token-0123456789", "K": "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="]

    static func file(_ extra: String) -> String {
        "auth: {tokens: [{name: console, role: operator, token_env: OP}]}\n\(extra)\n"
    }

    @Test("the objectives default to 5 s to notify and 10 s to dispatch, and slo: sets them")
    func objectives() throws {
        let plain = try ConfigLoader.parse(Self.file(""), environment: Self.env, baseDirectory: nil)
        #expect(plain.serviceLevelTargets == [.deadlineToNotify: .seconds(5), .deadlineToDispatch: .seconds(10)])
        let set = try ConfigLoader.parse(
            Self.file("slo: {deadline_to_dispatch_s: 20, deadline_to_notify_s: 2.5}"), environment: Self.env,
            baseDirectory: nil)
        #expect(set.serviceLevelTargets == [.deadlineToNotify: Millis(2_500), .deadlineToDispatch: .seconds(20)])
    }

    @Test(
        "a bad objective, an unknown key under slo:, and previous_key_env on SQLite are refused by name",
        arguments: [
            ("slo: {deadline_to_notify_s: -1}", "slo.deadline_to_notify_s"),
            ("slo: {deadline_to_notify_s: many}", "slo.deadline_to_notify_s"),
            ("slo: {deadline_to_accept_s: 5}", "deadline_to_accept_s"),
            ("slo: 5", "slo"),
            ("encryption: {key_env: K, previous_key_env: K}", "previous_key"),
        ])
    func refused(_ line: String, _ named: String) {
        #expect {
            _ = try ConfigLoader.parse(Self.file(line), environment: Self.env, baseDirectory: nil)
        } throws: { error in
            "\(error)".contains(named)
        }
    }
}
