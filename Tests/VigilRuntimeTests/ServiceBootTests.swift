import Foundation
import Logging
import ServiceLifecycle
import Testing
import VigilCore
import VigilDelivery
import VigilTestKit

@testable import VigilRuntime

@Suite("the whole service, built by buildService and run in process on an in-memory store and a manual clock")
struct ServiceBootTests {
    static let yaml = """
        listen: "127.0.0.1:8080"
        auth: {tokens: [{name: console, role: operator, token_env: OP_TOKEN}]}
        targets:
          ems: {url: "http://127.0.0.1:9/hook", format: json, secret_env: EMS_SECRET}
        policies:
          default: {ack_timeout_s: 60, steps: [{after_s: 0, dispatch: [ems]}]}
        """

    /// The whole service built from `yaml` on an in-memory store, a manual clock whose due sessions the test feeds
    /// through `timer`, and a recording transport; port 0.
    static func boot(_ yaml: String) async throws -> (
        service: VigilService, store: InMemoryStore, manual: ManualTime,
        timer: AsyncStream<[SessionID]>.Continuation, transport: RecordingTransport
    ) {
        var config = try ConfigLoader.parse(
            yaml,
            environment: ["OP_TOKEN": "operator-token-0123456789", "EMS_SECRET": "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="],
            baseDirectory: nil)
        config.port = 0
        let store = InMemoryStore()
        let manual = ManualTime()
        let (due, timer) = AsyncStream.makeStream(of: [SessionID].self)
        let transport = RecordingTransport()
        let service = try await VigilServer.buildService(
            config: config,
            storage: Storage(
                store: store, shared: false, wakeups: nil, claimDue: nil, databaseNow: nil, lastSequence: { 0 }),
            time: ServiceTime(clock: manual, scheduler: manual, due: due), transport: transport,
            secret: Array(repeating: 7, count: 32), assetsDirectory: nil, logger: Logger(label: "test"),
            handleSignals: false)
        return (service, store, manual, timer, transport)
    }

    /// Waits (in real time, the service's tasks being real) until `condition` holds, for at most 10 s.
    static func eventually(_ condition: () async -> Bool) async throws -> Bool {
        for _ in 0..<200 {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }

    @Test("a missed check-in flows timer → deadline service → engine → outbox → transport, and HTTP answers")
    func missedCheckInReachesTheTransport() async throws {
        let (service, store, manual, timer, transport) = try await Self.boot(Self.yaml)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.group.run() }
            let session = try await service.engine.start(
                StartRequest(
                    caller: Caller(alias: "J"), location: Location(address: "1 Test St"), interval: .seconds(60),
                    grace: .seconds(10), policy: "default", notes: nil))
            #expect(transport.requests.isEmpty)
            // The timer reports the session due; nothing else moves time.
            let fired = manual.advance(by: .seconds(71))
            #expect(fired == [session.id])
            timer.yield(fired)
            let sent = try await Self.eventually {
                transport.requests.contains { r in
                    (try? VigilJSON.decode(JSONValue.self, from: r.body))?["type"]?.stringValue == "dispatch.requested"
                }
            }
            #expect(sent, "the dispatch reached the transport")
            let request = try #require(transport.requests.first)
            #expect(request.url == "http://127.0.0.1:9/hook")
            #expect(request.headers.contains { $0.0.lowercased() == "webhook-signature" })
            // The target's 2xx was recorded durably: the session is dispatched, its delivery on file.
            let delivered = try await Self.eventually {
                let stored = try? await store.session(session.id)
                return stored?.state == .dispatched && stored?.dispatch?.deliveredAt != nil
            }
            #expect(delivered)
            // The HTTP server of the same group answers on its port, through real libcurl.
            let listening = try await Self.eventually { service.port() != nil }
            #expect(listening)
            let client = CurlClient()
            let health = await client.perform(
                HTTPRequestSpec(
                    url: "http://127.0.0.1:\(service.port() ?? 0)/healthz", method: "GET", timeoutMillis: 5000))
            client.shutdown()
            #expect(health.status == 200)
            await service.group.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }
}
