import Testing
import VigilCore

@testable import VigilDelivery

@Suite("DeliveryMachine: lease, retry and give-up decided from facts")
struct DeliveryMachineTests {
    static let now = Timestamp(seconds: 1_795_341_600)
    static let machine = DeliveryMachine(targets: [
        "ems": Target(
            name: "ems", url: "https://ems.example/hook", format: .json,
            signer: WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!, timeout: .seconds(10),
            retry: RetrySettings(maxAttempts: 3, initialBackoff: .seconds(1), maxBackoff: .seconds(30)))
    ])

    static func item(targets: [TargetName] = ["ems", "backup"], index: Int = 0, attempts: Int = 0) -> OutboxItem {
        var item = OutboxItem(
            id: NotificationID(rawValue: "ntf_0001"), sessionID: SessionID(rawValue: "ses_0001"),
            type: .dispatchRequested, targets: targets, webhookIDs: targets.map { WebhookID(rawValue: "msg_\($0)") },
            body: [],
            createdAt: now, isDispatch: true)
        item.targetIndex = index
        item.attempts = attempts
        return item
    }

    @Test("the lease counts the attempt first and lasts the target's timeout and a second")
    func lease() {
        let u = Self.machine.claim(Self.item(attempts: 1), at: Self.now)
        #expect(u.attempts == 2)
        #expect(u.claim)
        #expect(u.nextAttemptAt == Self.now + .seconds(11))
    }

    @Test(
        "an attempt's result, by status and attempt number",
        arguments: [
            (200, 0, "report delivered"), (204, 2, "report delivered"),
            (503, 0, "retry"), (429, 1, "retry"), (0, 1, "retry"),
            (503, 2, "report failed"), (0, 2, "report failed"),
            (400, 0, "report failed"), (410, 0, "report failed"), (301, 0, "report failed"),
        ])
    func settle(status: Int, attempts: Int, expected: String) {
        let item = Self.item(attempts: attempts)
        let result = HTTPResult(status: status, curlCode: status == 0 ? 7 : 0, error: status == 0 ? "refused" : nil)
        switch Self.machine.settle(item, result: result, jitter: 0, now: Self.now) {
        case .report(.delivered(let index, let s, let n)):
            #expect(expected == "report delivered")
            #expect(index == 0 && s == status && n == attempts + 1)
        case .report(.targetFailed(let index, _, let n)):
            #expect(expected == "report failed", "status \(status), attempt \(attempts + 1)")
            #expect(index == 0 && n == attempts + 1)
        case .retry(let update, _):
            #expect(expected == "retry", "status \(status), attempt \(attempts + 1)")
            #expect(update.attempts == attempts + 1 && update.targetIndex == 0)
            #expect(update.nextAttemptAt > Self.now)
            #expect(update.nextAttemptAt <= Self.now + .seconds(30))
        }
    }

    @Test("a hostile Retry-After cannot hold a retry past the backoff cap")
    func retryAfterCapped() {
        let result = HTTPResult(status: 503, curlCode: 0, headers: ["retry-after": "99999999999999999999999"])
        guard case .retry(let update, _) = Self.machine.settle(Self.item(), result: result, jitter: 1, now: Self.now)
        else {
            Issue.record("a 503 on the first attempt is retried")
            return
        }
        #expect(update.nextAttemptAt <= Self.now + .seconds(30))
    }

    @Test("a target missing from configuration, or an index out of range, ends that target without sending")
    func unsendable() {
        #expect(
            Self.machine.start(Self.item(index: 1), at: Self.now)
                == .report(.targetFailed(targetIndex: 1, reason: "target not configured", attempts: 1)))
        if case .report(.targetFailed(5, _, 1)) = Self.machine.start(Self.item(index: 5), at: Self.now) {
        } else {
            Issue.record("an index past the targets is refused")
        }
        #expect(
            Self.machine.start(Self.item(), at: Self.now)
                == .send(targetName: "ems", webhookID: "msg_ems", attempt: 1, timeout: .seconds(10)))
    }
}
