import Foundation
import Testing
import VigilCore
import VigilRuntime

@Suite("language, texts and resources: configuration")
struct ConfigPersonTests {
    static let env = HotlineConfigTests.env

    static func file(_ extra: String) -> String { HotlineConfigTests.file(extra) }

    static func issues(_ text: String, base: String? = nil) -> [String] {
        do {
            _ = try ConfigLoader.parse(text, environment: env, baseDirectory: base)
            return []
        } catch let e as ConfigErrors {
            return e.issues.map(\.message)
        } catch {
            return ["\(error)"]
        }
    }

    @Test("hotline.language is the default, English when absent; another value is refused")
    func language() throws {
        let c = try ConfigLoader.parse(
            Self.file("hotline: {language: fr}"), environment: Self.env, baseDirectory: nil)
        #expect(c.person.language == .fr)
        let d = try ConfigLoader.parse(Self.file(""), environment: Self.env, baseDirectory: nil)
        #expect(d.person.language == .en)
        #expect(Self.issues(Self.file("hotline: {language: de}")) == ["hotline.language must be one of en, es, fr"])
    }

    @Test("texts: overrides are read and held to the catalog's rules")
    func texts() throws {
        let c = try ConfigLoader.parse(
            Self.file("texts: {es: {page.button: \"Todo bien\"}}"), environment: Self.env, baseDirectory: nil)
        #expect(c.person.text("page.button", .es) == "Todo bien")
        let bad = Self.issues(
            Self.file(
                """
                texts:
                  es: {page.button: "¿Estás bien?"}
                  fr: {sms.reminder: "Risque de surdose {link}", nope: "x"}
                  en: {sms.prompt: "Check in at {address}"}
                  de: {page.button: "OK"}
                """))
        #expect(bad.count == 5, "\(bad)")
        #expect(bad.contains { $0.contains("texts.es.page.button must not ask a question") })
        #expect(bad.contains { $0.contains("texts.fr.sms.reminder must not contain the word \"surdose\"") })
        #expect(bad.contains { $0.contains("\"nope\" is not a text") })
        #expect(bad.contains { $0.contains("texts.en.sms.prompt uses {address}") })
        #expect(bad.contains { $0.contains("unknown key \"de\" in texts") })
    }

    static func withResources(_ yaml: String) throws -> (String, String) {
        let dir = NSTemporaryDirectory() + "vigil-res-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try yaml.write(toFile: dir + "/resources.yaml", atomically: true, encoding: .utf8)
        return (dir, Self.file("resources: {file: resources.yaml}"))
    }

    @Test("resources: the file is read, relative to the configuration")
    func resources() throws {
        let (dir, text) = try Self.withResources(
            """
            resources:
              - {id: mail, name: "Naloxone by Mail", kind: naloxone, url: "https://mail.example", by_mail: true}
              - {id: clinic, name: "Clinic", kind: treatment, phone: "555-0100", latitude: 39.8, longitude: -89.6,
                 region: IL, country: us, languages: [en, es], hours: "Mon-Fri 9-5"}
            """)
        let c = try ConfigLoader.parse(text, environment: Self.env, baseDirectory: dir)
        #expect(c.person.resources.map(\.id) == ["mail", "clinic"])
        #expect(c.person.resources[1].languages == [.en, .es])
        #expect(c.person.resources[1].country == "US")
        #expect(c.person.resources[0].byMail)
    }

    @Test("config check names each bad resource")
    func badResources() throws {
        let (dir, text) = try Self.withResources(
            """
            - {id: a, name: A, kind: shelter, phone: "1"}
            - {id: b, name: B, kind: treatment}
            - {id: c, name: C, kind: treatment, phone: "1", latitude: 95, longitude: 0}
            - {id: d, name: D, kind: treatment, phone: "1", languages: [de]}
            - {id: e, name: E, kind: treatment, phone: "1", latitude: 1}
            - {id: e, name: E2, kind: treatment, phone: "1"}
            - {id: e, name: E3, kind: treatment, phone: "1"}
            - {name: F, kind: treatment, phone: "1"}
            """)
        let bad = Self.issues(text, base: dir)
        #expect(bad.count == 7, "\(bad)")
        #expect(bad.contains { $0.contains("resource 1 (a): kind must be one of") })
        #expect(bad.contains { $0.contains("(b): give a phone or a url") })
        #expect(bad.contains { $0.contains("latitude must be a number from -90.0 to 90.0") })
        #expect(bad.contains { $0.contains("languages may list only en, es, fr") })
        #expect(bad.contains { $0.contains("give both latitude and longitude") })
        #expect(bad.contains { $0.contains("id e is used twice") })
        #expect(bad.contains { $0.contains("resource 8: id is required") })
        #expect(Self.issues(Self.file("resources: {file: nowhere.yaml}")).first?.contains("cannot read") == true)
    }

    @Test("the shipped example resources pass config check")
    func example() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let c = try ConfigLoader.parse(
            Self.file("resources: {file: resources.example.yaml}"), environment: Self.env,
            baseDirectory: root + "/config")
        let ids = Set(c.person.resources.map(\.id))
        #expect(ids.isSuperset(of: ["never-use-alone", "samhsa-helpline", "988-lifeline", "next-distro"]))
        #expect(c.person.resources.first { $0.id == "next-distro" }?.byMail == true)
    }
}
