import ArgumentParser
import Dispatch
import VigilCore

/// The state machine alone, no store and no HTTP: what one decision costs, event data and notification bodies
/// included. Prints microseconds per decision for a check-in, and for a lapse that notifies two targets and
/// dispatches to two (the decision that writes the most).
struct DecideCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decide", abstract: "Microseconds per SessionMachine decision: check-ins and full lapses.")
    @Option(help: "Decisions of each kind.") var count = 200_000
    @Option(help: "Rounds; the best is printed (the least disturbed by the rest of the machine).") var rounds = 5

    func validate() throws {
        guard count > 0, count <= 10_000_000 else { throw ValidationError("--count must be 1...10000000") }
        guard rounds > 0, rounds <= 100 else { throw ValidationError("--rounds must be 1...100") }
    }

    func run() throws {
        let t0 = Timestamp(millis: 1_764_000_000_000)
        let policy = Policy(
            name: "default", ackTimeout: .seconds(120),
            steps: [
                Step(after: .zero, action: .notify(["supervisor", "ops-pager"])),
                Step(after: .zero, action: .dispatch(["ems-primary", "ems-backup"])),
            ], onDeliveryFailure: ["ops-pager"])
        let request = StartRequest(
            caller: Caller(alias: "Sam", callbackNumber: "+15551234567"),
            location: Location(
                address: "123 Main St", unit: "4B", city: "Springfield", region: "IL", postalCode: "62701",
                latitude: 39.78, longitude: -89.65, accessNotes: "side door, code 1234", accuracyM: 15),
            interval: .seconds(300), grace: .seconds(60), policy: "default", notes: "first time here",
            substance: "fentanyl")
        let ids = IDGenerator.system
        let started = SessionMachine.start(
            request, policy: policy, id: ids.sessionID(), token: ids.checkInToken(), at: t0
        ).session
        let lapseAt = t0 + .seconds(400)

        var best = (checkIn: Double.infinity, lapse: Double.infinity)
        var events = 0
        var bytes = 0
        for _ in 0..<rounds {
            var s = started
            var clock = t0
            let a = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<count {
                clock = clock + Millis(1000)
                let d = try SessionMachine.decide(s, .checkIn(source: .operator, note: nil), at: clock, ids: ids)
                s = d.session
                events += d.events.count
            }
            let b = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<count {
                let d = try SessionMachine.decide(started, .deadline, at: lapseAt, ids: ids)
                events += d.events.count
                bytes += d.outbox.reduce(0) { $0 + $1.body.count }
            }
            let c = DispatchTime.now().uptimeNanoseconds
            best.checkIn = min(best.checkIn, Double(b - a) / 1000 / Double(count))
            best.lapse = min(best.lapse, Double(c - b) / 1000 / Double(count))
        }
        print("decide: \(count) decisions of each kind, best of \(rounds) rounds")
        print(String(format: "  check-in: %.2f µs per decision", best.checkIn))
        print(String(format: "  lapse (overdue → notify 2 → dispatch 2): %.2f µs per decision", best.lapse))
        print("  (\(events) events and \(bytes) body bytes made, so that nothing is optimised away)")
    }
}
