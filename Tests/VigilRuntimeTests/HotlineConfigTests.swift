import Testing
import VigilCore
import VigilRuntime

@Suite("hotline: configuration")
struct HotlineConfigTests {
    static let env = ["OP": "operator-token-0123456789", "EMS": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

    static func file(_ hotline: String, notify: String = "sup") -> String {
        """
        auth: {tokens: [{name: console, role: operator, token_env: OP}]}
        targets:
          ems: {url: "https://e.example/x", format: eido, secret_env: EMS}
          cap: {url: "https://c.example/x", format: cap, secret_env: EMS}
          sup: {url: "https://s.example/x", format: json, secret_env: EMS}
        policies:
          default: {ack_timeout_s: 60, steps: [{after_s: 0, notify: [\(notify)]}, {after_s: 60, dispatch: [ems, cap]}]}
        \(hotline)
        """
    }

    @Test("the example hotline is read whole")
    func good() throws {
        let c = try ConfigLoader.parse(
            Self.file(
                """
                hotline:
                  organization: "Example Overdose Response Line"
                  sender: "dispatch@example.org"
                  agency_id: "Example.org"
                  callback_number: "+18005550100"
                  time_zone: "America/Chicago"
                """), environment: Self.env, baseDirectory: nil)
        #expect(
            c.hotline
                == Hotline(
                    organization: "Example Overdose Response Line", sender: "dispatch@example.org",
                    agencyID: "example.org", callbackNumber: "+18005550100", timeZone: "America/Chicago"))
        #expect(c.targets["ems"]?.format == .eido)
    }

    @Test(
        "a bad hotline is refused with its line",
        arguments: [
            ("time_zone: \"Mars/Olympus\"", "hotline.time_zone"), ("time_zone: \"CST\"", "hotline.time_zone"),
            ("callback_number: \"800-555-0100\"", "hotline.callback_number"),
            ("callback_number: \"+0123456789\"", "hotline.callback_number"),
            ("sender: \"dispatch desk\"", "hotline.sender"), ("agency_id: \"a domain\"", "hotline.agency_id"),
            ("organization: \"\"", "hotline.organization"), ("colour: red", "unknown key"),
        ])
    func bad(line: String, message: String) throws {
        do {
            _ = try ConfigLoader.parse(Self.file("hotline:\n  " + line), environment: Self.env, baseDirectory: nil)
            Issue.record("accepted \(line)")
        } catch let e as ConfigErrors {
            #expect(e.issues.contains { $0.message.contains(message) && $0.line != nil }, "\(e)")
        }
    }

    @Test("a cap or eido target named by a notify step is refused", arguments: ["ems", "cap"])
    func dispatchFormatsOnlyDispatch(name: String) throws {
        do {
            _ = try ConfigLoader.parse(Self.file("", notify: name), environment: Self.env, baseDirectory: nil)
            Issue.record("accepted a notify step to \(name)")
        } catch let e as ConfigErrors {
            #expect(e.issues.contains { $0.message.contains("receives only dispatch.* messages") }, "\(e)")
        }
    }
}
