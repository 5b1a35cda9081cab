import Synchronization
import VigilCore
import VigilTestKit

/// An engine over an in-memory store, a manual clock and a deterministic id source.
struct Harness {
    let time = ManualTime()
    let store = InMemoryStore()
    let observer = RecordingObserver()
    let engine: SessionEngine

    static let sup: TargetName = "sup"
    static let ems: TargetName = "ems"
    static let ems2: TargetName = "ems2"
    static let alarm: TargetName = "alarm"

    static let ladder = Policy(
        name: "default", ackTimeout: .seconds(5),
        steps: [
            Step(after: .zero, action: .notify([sup])),
            Step(after: .seconds(1), action: .dispatch([ems, ems2])),
        ], onDeliveryFailure: [alarm])

    init(policy: Policy = Harness.ladder) {
        let counter = Mutex<UInt64>(0)
        let ids = IDGenerator { n in
            counter.withLock { c in
                c += 1
                var x = c &* 0x9E37_79B9_7F4A_7C15
                return (0..<n).map { _ in
                    x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return UInt8(truncatingIfNeeded: x >> 33)
                }
            }
        }
        engine = SessionEngine(
            store: store, scheduler: time, clock: time, ids: ids, policies: [policy.name: policy],
            observer: observer)
    }

    static let request = StartRequest(
        caller: Caller(alias: "J", callbackNumber: "+15551234567"),
        location: Location(
            address: "123 Main St", unit: "4B", latitude: 39.78, longitude: -89.65, accessNotes: "side door"),
        interval: .seconds(2), grace: .seconds(1), policy: "default", notes: "has naloxone")

    func start(_ r: StartRequest = Harness.request) async throws -> Session { try await engine.start(r) }

    /// Advances the clock in 100 ms ticks, firing whatever the scheduler says is due, as the runtime would.
    func advance(by d: Millis) async throws {
        var left = d.value
        while left > 0 {
            let step = min(100, left)
            left -= step
            for id in time.advance(by: Millis(step)) { try await engine.fire(id) }
        }
    }

    func session(_ id: SessionID) async throws -> Session { try await engine.session(id)! }

    func types(_ id: SessionID) -> [EventType] { store.allEvents.filter { $0.sessionID == id }.map(\.type) }

    /// Notifications written, as (type, targets).
    var sent: [(EventType, [TargetName])] { store.notifications.map { ($0.type, $0.targets) } }

    /// Reports a delivery result for the latest notification of `type`.
    func deliver(_ type: EventType, targetIndex: Int = 0, status: Int = 200) async throws {
        let item = store.notifications.last { $0.type == type }!
        try await engine.execute(
            item.sessionID, .delivery(item, .delivered(targetIndex: targetIndex, status: status, attempts: 1)))
    }

    func fail(_ type: EventType, targetIndex: Int) async throws {
        let item = store.notifications.last { $0.type == type }!
        try await engine.execute(
            item.sessionID, .delivery(item, .targetFailed(targetIndex: targetIndex, reason: "HTTP 500", attempts: 3)))
    }
}
