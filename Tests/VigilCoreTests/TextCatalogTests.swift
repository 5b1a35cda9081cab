import Testing
import VigilCore

@Suite("the texts' catalogs")
struct TextCatalogTests {
    @Test("every key is in every language, and no language has a key the others lack", arguments: Language.allCases)
    func complete(_ language: Language) {
        let reference = Set(TextCatalog.builtIn(.en).keys)
        let keys = Set(TextCatalog.builtIn(language).keys)
        #expect(reference.subtracting(keys).sorted() == [], "missing in \(language.rawValue)")
        #expect(keys.subtracting(reference).sorted() == [], "only in \(language.rawValue)")
    }

    @Test("each text has the same placeholders in every language", arguments: Language.allCases)
    func placeholders(_ language: Language) {
        for (key, text) in TextCatalog.builtIn(language) {
            let english = TextCatalog.builtIn(.en)[key] ?? ""
            #expect(
                TextCatalog.placeholders(text) == TextCatalog.placeholders(english), "\(language.rawValue) \(key)")
        }
    }

    @Test("no text asks a yes/no question or carries a banned word", arguments: Language.allCases)
    func rules(_ language: Language) {
        for (key, text) in TextCatalog.builtIn(language) {
            #expect(TextCatalog.problem(key: key, text: text) == nil, "\(language.rawValue) \(key): \(text)")
            #expect(!text.contains("?") && !text.contains("¿"), "\(language.rawValue) \(key)")
            for word in ["overdose", "sobredosis", "surdose"] {
                #expect(!text.lowercased().contains(word), "\(language.rawValue) \(key)")
            }
        }
    }

    @Test("the texts to the person say how to answer, with the words the inbound route understands")
    func smsWords() {
        #expect(TextCatalog.text("sms.reminder", .en).contains("Reply OK if you are OK, HELP for help"))
        #expect(TextCatalog.text("sms.prompt", .en).contains("Reply OK if you are OK, HELP for help"))
        #expect(TextCatalog.text("sms.reminder", .es).contains("AYUDA"))
        #expect(TextCatalog.text("sms.reminder", .fr).contains("AIDE"))
        for l in Language.allCases {
            #expect(TextCatalog.text("sms.reminder", l, ["link": "https://x/c/t"]).contains("https://x/c/t"))
        }
    }

    @Test("a rule refuses questions, banned words and unknown placeholders")
    func problem() {
        #expect(TextCatalog.problem(key: "sms.reminder", text: "Are you OK? {link}") != nil)
        #expect(TextCatalog.problem(key: "sms.reminder", text: "¿Estás bien {link}") != nil)
        #expect(TextCatalog.problem(key: "sms.reminder", text: "Risque de SURDOSE {link}") != nil)
        #expect(TextCatalog.problem(key: "sms.reminder", text: "Check in {address}") != nil)
        #expect(TextCatalog.problem(key: "no.such.key", text: "Hello") != nil)
        #expect(TextCatalog.problem(key: "sms.reminder", text: "Check in: {link}") == nil)
    }

    @Test("overrides win, per language, and arguments are filled in once")
    func overrides() {
        let c = TextCatalog(overrides: [.es: ["page.button": "Todo bien"]])
        #expect(c.text("page.button", .es) == "Todo bien")
        #expect(c.text("page.button", .fr) == "Je vais bien")
        #expect(c.text("page.due", .en, ["time": "{time}"]) == "Next check-in due in about {time}.")
    }

    @Test("a responder's request is written in the session's language")
    func responderMessage() {
        let r = Responder(name: "Ana", phone: "+15550001111")
        let loc = Location(address: "1 Calle Mayor", unit: "2")
        let es = ResponderMessage.render(
            nil, responder: r, alias: nil, location: loc, link: "https://x/r/t", language: .es)
        #expect(es.hasPrefix("Hola, Ana: Alguien nos pidió"))
        #expect(es.contains("1 Calle Mayor, unidad 2"))
        let en = ResponderMessage.render(nil, responder: r, alias: "J", location: loc, link: "https://x/r/t")
        #expect(
            en == "Hi Ana, J asked us to contact you. Please check on them now at 1 Calle Mayor, unit 2. "
                + "Tell us if you can go: https://x/r/t")
    }
}
