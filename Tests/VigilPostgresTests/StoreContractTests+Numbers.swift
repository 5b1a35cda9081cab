import Foundation
import Testing
import VigilCore
import VigilTestKit

extension StoreContractTests {
    @Test(
        "callback numbers stored as typed are rewritten in E.164 at start; one that cannot be read is left as it is",
        arguments: Kind.allCases)
    func numbersNormalized(kind: Kind) async throws {
        try await Self.with(kind) { store in
            var typed = Self.session(40)
            typed.caller.callbackNumber = "555-123-4567"
            var unreadable = Self.session(41)
            unreadable.caller.callbackNumber = "555-0100"
            let already = Self.session(42)
            var none = Self.session(43)
            none.caller.callbackNumber = nil
            for s in [typed, unreadable, already, none] { _ = try await Self.start(store, s) }

            let time = ManualTime(start: Self.t0)
            let engine = SessionEngine(
                store: store, scheduler: time, clock: time, policies: ["default": .consoleOnly],
                observer: RecordingObserver())
            _ = try await engine.recover()
            let r = await engine.normalizeCallbackNumbers { PhoneNumber.e164($0, defaultCountry: .us) }
            #expect(r.normalized == [typed.id])
            #expect(r.unreadable == [unreadable.id])
            #expect(r.failed.isEmpty)

            let stored = try #require(try await store.session(typed.id))
            #expect(stored.caller.callbackNumber == "+15551234567")
            #expect(stored.version == typed.version + 1, "a compare-and-set: another instance's write conflicts")
            #expect(try await engine.session(typed.id) == stored)
            #expect(try await store.session(unreadable.id) == unreadable)
            #expect(try await store.session(already.id) == already)
            #expect(try await store.session(none.id) == none)
            #expect(try await store.events(of: typed.id).map(\.type) == [.sessionStarted], "no event, no webhook")

            // Idempotent: a second start changes nothing more.
            let again = await engine.normalizeCallbackNumbers { PhoneNumber.e164($0, defaultCountry: .us) }
            #expect(again.normalized.isEmpty && again.unreadable == [unreadable.id])
            #expect(try await store.session(typed.id) == stored)
        }
    }

    @Test("a system event (no session) is kept and read back in the log with no session", arguments: Kind.allCases)
    func systemEventKept(kind: Kind) async throws {
        try await Self.with(kind) { store in
            let s = Self.session(44)
            let before = try await Self.start(store, s)
            let event = EventData.SMSUnknownHelp(from: "***4567", reason: "no session")
            let written = try await store.commit(
                CommitBatch(
                    session: nil, expectedVersion: nil, sessionID: nil, events: [NewEvent(event, at: Self.t0)],
                    outbox: [], outboxUpdates: []))
            let read = try await store.events(after: before.last?.seq ?? 0, limit: 10)
            #expect(read == written)
            #expect(read.first?.sessionID == nil)
            #expect(read.first?.data(as: EventData.SMSUnknownHelp.self) == event)
        }
    }
}
