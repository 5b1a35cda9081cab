import Testing

@testable import VigilCore

/// What each role reads of a session, by its state: the table of fields × readers, row by row.
@Suite("what each role reads of a session")
struct DisclosureTests {
    static let t0 = Timestamp(millis: 1_764_000_000_000)

    /// Who reads: a viewer, or staff (operator, supervisor, admin) by a plain read or a recorded reveal.
    enum Reader: String, CaseIterable, CustomTestStringConvertible {
        case viewer, staff, reveal
        var testDescription: String { rawValue }

        func disclosure(_ state: SessionState) -> Disclosure {
            switch self {
            case .viewer: Disclosure.read(staff: false, state: state)
            case .staff: Disclosure.read(staff: true, state: state)
            case .reveal: .full
            }
        }
    }

    /// Every part of the session that holds personal data, and a test of whether a read shows it.
    static let personal: [(String, @Sendable (JSONValue) -> Bool)] = [
        ("callback number", { $0["caller"]?["callback_number"] != nil }),
        ("address", { $0["location"]?["address"] != nil }),
        ("unit", { $0["location"]?["unit"] != nil }),
        ("postal code", { $0["location"]?["postal_code"] != nil }),
        ("coordinates", { $0["location"]?["latitude"] != nil || $0["location"]?["longitude"] != nil }),
        ("accuracy", { $0["location"]?["accuracy_m"] != nil }),
        ("access notes", { $0["location"]?["access_notes"] != nil }),
        ("notes", { $0["notes"] != nil }),
        ("substance", { $0["substance"] != nil }),
        ("responders", { $0["responders"] != nil }),
    ]

    static func session(_ state: SessionState) -> Session {
        var s = Session(
            id: SessionID(rawValue: "ses_x"), caller: Caller(alias: "Sam", callbackNumber: "+15551234567"),
            location: Location(
                address: "1 Main St", unit: "4B", city: "Springfield", region: "IL", postalCode: "62701",
                country: "US", latitude: 39.78, longitude: -89.65, accessNotes: "side door", accuracyM: 12.0),
            notes: "has naloxone", interval: .seconds(300), grace: .seconds(60), policy: .consoleOnly,
            checkInToken: "tok", at: Self.t0)
        s.substance = "fentanyl"
        s.responders = [Responder(name: "Alex", phone: "+15550000000")]
        s.state = state
        if state == .ended { s.endedAt = Self.t0 + .seconds(600) }
        return s
    }

    static func read(_ state: SessionState, _ reader: Reader) throws -> JSONValue {
        try JSONValueEncoder.encode(SessionView(api: session(state), disclosure: reader.disclosure(state)))
    }

    static let allStates: [SessionState] = [.active, .overdue, .escalating, .dispatched, .ended]

    @Test(
        "personal data: a viewer never, staff only in alarm (overdue, escalating, dispatched), a reveal always",
        arguments: allStates, Reader.allCases)
    func personalData(state: SessionState, reader: Reader) throws {
        let v = try Self.read(state, reader)
        let full = reader == .reveal || (reader == .staff && Disclosure.alarmStates.contains(state))
        for (field, shows) in Self.personal {
            #expect(shows(v) == full, "\(field) in a \(reader) read of a \(state) session")
        }
        #expect((v["location"]?["redacted"] == .bool(true)) == !full, "the mark says when fields were left out")
    }

    @Test(
        "id, state, times, alias, city, region, country, escalation, dispatch: every reader, every state",
        arguments: allStates, Reader.allCases)
    func everyone(state: SessionState, reader: Reader) throws {
        let v = try Self.read(state, reader)
        #expect(v["id"]?.stringValue == "ses_x")
        #expect(v["state"]?.stringValue == state.rawValue)
        #expect(v["started_at"] != nil && v["last_check_in_at"] != nil)
        #expect(v["caller"]?["alias"]?.stringValue == "Sam")
        #expect(v["location"]?["city"]?.stringValue == "Springfield")
        #expect(v["location"]?["region"]?.stringValue == "IL")
        #expect(v["location"]?["country"]?.stringValue == "US")
        #expect(v["escalation"] != nil && v["dispatch"] != nil, "present, if null")
    }

    @Test("no read carries the check-in link, whoever reads", arguments: allStates, Reader.allCases)
    func noLink(state: SessionState, reader: Reader) throws {
        #expect(try Self.read(state, reader)["check_in_url"] == nil)
    }

    @Test("a redacted location is exactly city, region, country and the mark")
    func redactedShape() throws {
        let v = try Self.read(.active, .viewer)
        #expect(v["location"] == ["city": "Springfield", "region": "IL", "country": "US", "redacted": true])
        #expect(v["caller"] == ["alias": "Sam"])
    }

    @Test("only the answer that starts a session carries the link, with everything the operator typed")
    func startAnswer() throws {
        let v = try JSONValueEncoder.encode(
            SessionView(api: Self.session(.active), disclosure: .full, checkInURL: "/c/tok"))
        #expect(v["check_in_url"]?.stringValue == "/c/tok")
        #expect(v["location"]?["address"]?.stringValue == "1 Main St")
    }

    @Test("a viewer's event carries no note and no text, and says it was redacted")
    func events() {
        let e = StoredEvent(
            seq: 1, sessionID: SessionID(rawValue: "ses_x"), type: .checkInReceived, at: Self.t0,
            data: ["source": "operator", "note": "at her sister's, 9 Elm St", "previous_state": "overdue"])
        let r = e.redacted()
        #expect(r.data == ["source": "operator", "note": nil, "previous_state": "overdue", "redacted": true])
        let text = StoredEvent(
            seq: 2, sessionID: nil, type: .smsReceived, at: Self.t0, data: ["text": "call me at 555 0100"])
        #expect(text.redacted().data == ["text": nil, "redacted": true])
        // Nothing personal: the event is untouched.
        let plain = StoredEvent(seq: 3, sessionID: nil, type: .checkInOverdue, at: Self.t0, data: ["late_ms": 5])
        #expect(plain.redacted() == plain)
    }
}
