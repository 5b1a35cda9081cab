import Testing
import VigilCore

@testable import VigilDelivery

/// A dispatch target's turn is bounded by its failover time, retries included: a primary that accepts connections
/// and never answers, or answers 503 with a long `Retry-After`, or is given many attempts, hands the dispatch to the
/// next target within `failover_after_s` of its first attempt. Driven by hand-moved time, as the worker would.
@Suite("failover time: the most a dispatch target may take")
struct FailoverTimeTests {
    static let t0 = Timestamp(seconds: 1_795_341_600)
    static let secret = WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!

    static func machine(maxAttempts: Int = 5, failoverAfter: Millis = .seconds(30)) -> DeliveryMachine {
        DeliveryMachine(targets: [
            "ems": Target(
                name: "ems", url: "https://ems.example/hook", format: .json, signer: secret, timeout: .seconds(10),
                retry: RetrySettings(maxAttempts: maxAttempts), failoverAfter: failoverAfter),
            "backup": Target(
                name: "backup", url: "https://backup.example/hook", format: .json, signer: secret,
                timeout: .seconds(10), failoverAfter: failoverAfter),
        ])
    }

    static func item(targets: [TargetName] = ["ems", "backup"], index: Int = 0, dispatch: Bool = true) -> OutboxItem {
        var item = OutboxItem(
            id: NotificationID(rawValue: "ntf_0001"), sessionID: SessionID(rawValue: "ses_0001"),
            type: dispatch ? .dispatchRequested : .escalationStep,
            targets: targets, webhookIDs: targets.map { WebhookID(rawValue: "msg_\($0)") }, body: [], createdAt: t0,
            isDispatch: dispatch)
        item.targetIndex = index
        return item
    }

    /// How a run of attempts on one target ended, and when.
    struct Run {
        var ended: Timestamp?
        var outcome: DeliveryOutcome?
        var attempts = 0
        var timeouts: [Millis] = []
    }

    /// Plays the worker's loop with hand-moved time: claim, start, the answer `answer` gives after `wait(timeout)`,
    /// settle, and the retry's wait; stops at a report or after `limit`.
    static func play(
        _ machine: DeliveryMachine, _ start: OutboxItem, until limit: Millis = .seconds(3600),
        took: (Millis) -> Millis = { $0 }, answer: (Millis) -> HTTPResult
    ) -> Run {
        var item = start
        var now = t0
        var run = Run()
        while now < t0 + limit {
            let claim = machine.claim(item, at: now)
            item.targetSince = claim.targetSince
            switch machine.start(item, at: now) {
            case .report(let outcome):
                (run.ended, run.outcome) = (now, outcome)
                return run
            case .send(_, _, _, let timeout):
                run.attempts += 1
                run.timeouts.append(timeout)
                let spent = min(took(timeout), timeout)
                now = now + spent
                switch machine.settle(item, result: answer(spent), jitter: 0, now: now) {
                case .report(let outcome):
                    (run.ended, run.outcome) = (now, outcome)
                    return run
                case .retry(let update, _):
                    item.attempts = update.attempts
                    item.targetSince = update.targetSince
                    now = update.nextAttemptAt
                }
            }
        }
        return run
    }

    static let silence = HTTPResult(status: 0, curlCode: 28, error: "timed out")

    @Test("a primary that accepts and never answers hands over at its failover time, not after its retries")
    func silentPrimary() throws {
        let run = Self.play(Self.machine(), Self.item()) { _ in Self.silence }
        let ended = try #require(run.ended)
        // 10 s + 0.75 s + 10 s + 1.5 s + the last attempt cut to what is left: exactly 30 s, where the five
        // attempts alone would take 61 s.
        #expect(ended == Self.t0 + .seconds(30))
        #expect(run.attempts == 3)
        #expect(run.timeouts == [.seconds(10), .seconds(10), Millis(7750)])
        guard case .targetFailed(0, let reason, 3) = run.outcome else {
            Issue.record("the primary's turn ends in a failure report: \(String(describing: run.outcome))")
            return
        }
        #expect(reason.contains("failover_after_s"))
    }

    @Test("a 503 with a Retry-After longer than what is left ends the turn at once")
    func retryAfterPastTheTurn() throws {
        let busy = HTTPResult(status: 503, curlCode: 0, headers: ["retry-after": "30"])
        let run = Self.play(Self.machine(), Self.item(), took: { _ in Millis(20) }) { _ in busy }
        #expect(run.attempts == 1)
        #expect(try #require(run.ended) == Self.t0 + Millis(20))
        guard case .targetFailed(0, let reason, 1) = run.outcome else {
            Issue.record("the primary fails at once: \(String(describing: run.outcome))")
            return
        }
        #expect(reason.contains("HTTP 503") && reason.contains("failover_after_s"))
    }

    @Test("a Retry-After that fits is honoured, and what is left caps the next attempt's timeout")
    func retryAfterThatFits() {
        var busy = true
        let run = Self.play(Self.machine(failoverAfter: .seconds(12)), Self.item(), took: { _ in Millis(20) }) { _ in
            defer { busy = false }
            return busy
                ? HTTPResult(status: 503, curlCode: 0, headers: ["retry-after": "10"])
                : HTTPResult(status: 200, curlCode: 0)
        }
        #expect(run.outcome == .delivered(targetIndex: 0, status: 200, attempts: 2))
        #expect(run.timeouts == [.seconds(10), Millis(1980)])
    }

    @Test("a hundred attempts on a target that answers 500 at once still end within its failover time")
    func manyAttempts() throws {
        let run = Self.play(Self.machine(maxAttempts: 100), Self.item(), took: { _ in Millis(5) }) { _ in
            HTTPResult(status: 500, curlCode: 0)
        }
        let ended = try #require(run.ended)
        #expect(ended <= Self.t0 + .seconds(30))
        #expect(ended >= Self.t0 + .seconds(15), "the backoffs still run while the turn lasts")
        #expect(run.attempts < 100)
    }

    @Test("the failover clock survives a restart: a retry that comes due after the turn is over is not sent")
    func clockAcrossRestart() {
        var item = Self.item()
        item.attempts = 2
        item.targetSince = Self.t0
        let m = Self.machine()
        let late = Self.t0 + .seconds(31)
        #expect(m.claim(item, at: late).targetSince == Self.t0, "a later claim keeps the first attempt's time")
        guard case .report(.targetFailed(0, let reason, 2)) = m.start(item, at: late) else {
            Issue.record("the turn is over")
            return
        }
        #expect(reason.contains("failover_after_s"))
    }

    @Test("the first claim starts the clock, and the lease is cut to what is left of the turn")
    func claimStartsTheClock() {
        let m = Self.machine()
        let first = m.claim(Self.item(), at: Self.t0)
        #expect(first.targetSince == Self.t0)
        #expect(first.nextAttemptAt == Self.t0 + .seconds(11))
        var item = Self.item()
        item.targetSince = Self.t0
        item.attempts = 1
        #expect(m.claim(item, at: Self.t0 + .seconds(25)).nextAttemptAt == Self.t0 + .seconds(31))
    }

    @Test(
        "the last target of a list, and notifications that are not dispatches, keep all their retries",
        arguments: [(["ems"], 0, true), (["backup", "ems"], 1, true), (["ems", "backup"], 0, false)])
    func noNextTarget(targets: [String], index: Int, dispatch: Bool) throws {
        let item = Self.item(targets: targets.map { TargetName(rawValue: $0) }, index: index, dispatch: dispatch)
        let run = Self.play(Self.machine(), item) { _ in Self.silence }
        #expect(run.attempts == 5)
        #expect(try #require(run.ended) > Self.t0 + .seconds(60))
    }
}
