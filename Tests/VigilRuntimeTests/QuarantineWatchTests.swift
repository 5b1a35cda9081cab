import Foundation
import Logging
import Synchronization
import Testing
import VigilCore
import VigilDelivery
import VigilTestKit

@testable import VigilRuntime

/// A store's list of rows set aside, set by the test.
final class ListedRows: QuarantineStore, Sendable {
    let rows = Mutex<[QuarantinedRow]>([])
    func quarantined() async throws -> [QuarantinedRow] { rows.withLock { $0 } }
    func unreadableSession(_ id: SessionID) async throws -> (version: Int, startedAt: Timestamp)? { nil }
}

@Suite("the alarm of rows that cannot be read")
struct QuarantineWatchTests {
    static let sessionID = SessionID(rawValue: "ses_damaged")

    @Test("each session with an unreadable row is alarmed at once, again every minute, and cleared when it ends")
    func alarmStandsUntilTheSessionEnds() async throws {
        let listed = ListedRows()
        let events = InMemoryStore()
        let transport = RecordingTransport()
        let time = ManualTime()
        let target = Target(
            name: "alarm", url: "http://127.0.0.1:9/alarm", format: .json,
            signer: try #require(WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")))
        let watch = QuarantineWatch(
            store: listed, sessions: events,
            alarm: DirectAlarm(transport: transport, clock: time, logger: Logger(label: "test")), clock: time,
            targets: [target],
            logger: Logger(label: "test"))
        listed.rows.withLock {
            $0 = [
                QuarantinedRow(
                    kind: .notification, sessionID: Self.sessionID, rowID: "ntf_1", reason: "its seal does not open",
                    at: time.now())
            ]
        }
        for t in await watch.check() { _ = await t.value }
        #expect(transport.requests.count == 1)
        let body = String(decoding: transport.requests.first?.body ?? [], as: UTF8.self)
        #expect(body.contains("system.alarm") && body.contains("ses_damaged") && body.contains("ntf_1"))
        #expect(watch.readinessCheck.contains("ses_damaged"))
        _ = time.advance(by: .seconds(59))
        for t in await watch.check() { _ = await t.value }
        #expect(transport.requests.count == 1)
        _ = time.advance(by: .seconds(1))
        for t in await watch.check() { _ = await t.value }
        #expect(transport.requests.count == 2)
        let raised = try await events.events(of: Self.sessionID)
        #expect(raised.map(\.type) == [.systemAlarm, .systemAlarm])
        #expect(raised.allSatisfy { $0.data["raised"] == true })

        // The operator ended the session: the store no longer lists its rows.
        listed.rows.withLock { $0 = [] }
        for t in await watch.check() { _ = await t.value }
        #expect(transport.requests.count == 2)
        #expect(watch.readinessCheck == "ok")
        #expect(try await events.events(of: Self.sessionID).last?.data["raised"] == false)
    }
}
