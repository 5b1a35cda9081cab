import Testing
import VigilCore
import VigilDelivery
import VigilRuntime

@Suite("webhook secret rotation")
struct SecretRotationTests {
    static let old = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let new = "whsec_bmV3LXNlY3JldC1ieXRlcy0wMTIzNDU2Nzg5"
    static let env = ["OP": "operator-token-0123456789", "NEW": new, "OLD": old]

    static func config(_ target: String) -> String {
        """
        auth:
          tokens:
            - {name: console, role: operator, token_env: OP}
        targets:
          ems: \(target)
        policies:
          default:
            steps:
              - {after_s: 0, dispatch: [ems]}
        """
    }

    /// What a Standard Webhooks receiver does: the header may carry several space-separated signatures, and the
    /// request verifies when one of them is the one its own secret makes.
    static func verifies(_ request: HTTPRequestSpec, secret: String) throws -> Bool {
        let headers = Dictionary(request.headers, uniquingKeysWith: { a, _ in a })
        let id = try #require(headers["webhook-id"])
        let timestamp = try #require(headers["webhook-timestamp"].flatMap { Int64($0) })
        let header = try #require(headers["webhook-signature"])
        let expected = try #require(WebhookSigner(secret: secret)).signature(
            id: id, timestamp: timestamp, body: request.body)
        return header.split(separator: " ").contains { $0 == expected }
    }

    @Test("during a rotation a receiver that knows only the old secret and one that knows only the new both verify")
    func bothVerify() throws {
        let c = try ConfigLoader.parse(
            Self.config(#"{url: "https://e.example/x", secret_env: NEW, previous_secret_env: OLD}"#),
            environment: Self.env, baseDirectory: nil)
        let target = try #require(c.targets["ems"])
        let request = target.request(
            body: Array(#"{"type":"test.ping"}"#.utf8), webhookID: "msg_rotation", at: Timestamp(seconds: 1_795_341_600)
        )
        #expect(try Self.verifies(request, secret: Self.old))
        #expect(try Self.verifies(request, secret: Self.new))
        #expect(!(try Self.verifies(request, secret: "whsec_b3RoZXItc2VjcmV0LWJ5dGVzLTAxMjM0NQ==")))
    }

    @Test("without a previous secret only the current one is sent")
    func oneSignature() throws {
        let c = try ConfigLoader.parse(
            Self.config(#"{url: "https://e.example/x", secret_env: NEW}"#), environment: Self.env, baseDirectory: nil)
        let request = try #require(c.targets["ems"]).request(
            body: [1, 2, 3], webhookID: "msg_one", at: Timestamp(seconds: 1_795_341_600))
        let header = Dictionary(request.headers, uniquingKeysWith: { a, _ in a })["webhook-signature"] ?? ""
        #expect(!header.contains(" "))
        #expect(try Self.verifies(request, secret: Self.new))
        #expect(!(try Self.verifies(request, secret: Self.old)))
    }

    @Test(
        "a previous secret is read like the current one, and refused when it is malformed or written in the file",
        arguments: [
            (#"{url: "https://e.example/x", secret_env: NEW, previous_secret: "whsec_abc"}"#, "never written"),
            (#"{url: "https://e.example/x", secret_env: NEW, previous_secret_env: UNSET}"#, "UNSET is not set"),
            (#"{url: "https://e.example/x", secret_env: NEW, previous_secret_env: BAD}"#, "previous_secret"),
        ])
    func refused(target: String, message: String) {
        var env = Self.env
        env["BAD"] = "whsec_c2hvcnQ="
        #expect {
            _ = try ConfigLoader.parse(Self.config(target), environment: env, baseDirectory: nil)
        } throws: { error in
            "\(error)".contains(message)
        }
    }
}
