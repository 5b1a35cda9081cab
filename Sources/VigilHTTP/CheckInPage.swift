import Foundation
import Hummingbird
import VigilCore

/// The person's "I'm OK" page: one big button, a plain form POST that works without JavaScript, under 10 KB,
/// and nothing on it that names the person or the place. Every word is in the session's language; "Help near you"
/// follows the button, and stays after the session ends until the retention purge.
enum CheckInPage {
    static func get(token: String, ok: Bool, env: APIEnvironment) async -> Response {
        let settings = env.person
        guard isPlausible(token) else { return notActive(env, status: .notFound) }
        guard let s = await env.engine.session(token: token) else {
            return await afterEnd(token: token, env: env)
        }
        let lang = s.spokenLanguage
        let t = { (key: String, args: [String: String]) in settings.text(key, lang, args) }
        let remaining = max(0, (s.due - env.engine.now()).wholeSeconds)
        var message = ""
        if ok { message = "<p class=ok role=status>\(escape(t("page.received", [:])))</p>\n" }
        let when: String
        if s.state == .active {
            when = t("page.due", ["time": describe(remaining, lang, settings)])
        } else if s.state == .dispatched {
            when = t("page.dispatched", [:])
        } else {
            when = t("page.late", [:])
        }
        let body = """
            <h1>\(escape(t("page.heading", [:])))</h1>
            \(message)<form method=post action="/c/\(token)">
            <button type=submit>\(escape(t("page.button", [:])))</button>
            </form>
            <p class=due>\(escape(when))</p>
            \(helpNearYou(s, settings))
            """
        return page(status: .ok, title: t("page.title", [:]), body: body, lang: lang)
    }

    static func post(token: String, env: APIEnvironment) async -> Response {
        guard isPlausible(token), let s = await env.engine.session(token: token) else {
            return notActive(env, status: .gone)
        }
        let lang = s.spokenLanguage
        let t = { (key: String) in env.person.text(key, lang) }
        do {
            // While the store is known to be away, say so at once rather than after every write's deadline.
            if let store = await env.readiness().checks["store"], store != "ok" {
                throw VigilError.unavailable("the store is away")
            }
            try await env.engine.execute(
                s.id, .checkIn(source: .caller, note: nil), actor: Actor(name: "caller", role: "caller"))
        } catch {
            return page(
                status: .serviceUnavailable, title: t("page.error_title"),
                body: "<h1>\(escape(t("page.error_title")))</h1><p>\(escape(t("page.error")))</p>"
                    + "<form method=post action=\"/c/\(token)\"><button type=submit>\(escape(t("page.button")))"
                    + "</button></form>", lang: lang)
        }
        return Response(status: .seeOther, headers: [.location: "/c/\(token)?ok=1", .cacheControl: "no-store"])
    }

    /// The page of an ended session: its resources until the purge; after it (or for a link never issued) the
    /// by-mail resources and the hotline's number.
    static func afterEnd(token: String, env: APIEnvironment) async -> Response {
        guard let s = await endedSession(token: token, env: env) else { return notActive(env, status: .notFound) }
        guard !s.location.address.isEmpty else { return notActive(env, status: .gone, language: s.spokenLanguage) }
        let lang = s.spokenLanguage
        let t = { (key: String) in env.person.text(key, lang) }
        let body =
            "<h1>\(escape(t("page.title")))</h1>\n<p class=due>\(escape(t("page.ended")))</p>\n"
            + callLine(env.person, lang) + helpNearYou(s, env.person)
        return page(status: .ok, title: t("page.title"), body: body, lang: lang)
    }

    /// The ended session of `token`, read at most once a second (`PersonSettings.mayLookUpEnded`): in between, the
    /// page answers as for an unknown link, which still offers the by-mail resources and the hotline's number.
    static func endedSession(token: String, env: APIEnvironment) async -> Session? {
        guard env.person.mayLookUpEnded(at: env.engine.now()),
            let ended = try? await env.store.sessions(.state(.ended), limit: 10_000)
        else { return nil }
        let wanted = Array(token.utf8)
        return ended.first { TokenAuthenticator.constantTimeEquals(Array($0.checkInToken.utf8), wanted) }
    }

    static func notActive(_ env: APIEnvironment, status: HTTPResponse.Status, language: Language? = nil)
        -> Response
    {
        let lang = language ?? env.person.language
        let t = { (key: String) in env.person.text(key, lang) }
        let mail = env.person.resources.filter(\.byMail)
        let body =
            "<h1>\(escape(t("page.not_active_title")))</h1>\n<p>\(escape(t("page.not_active")))</p>\n"
            + callLine(env.person, lang) + list(mail, lang, env.person)
        return page(status: status, title: t("page.not_active_title"), body: body, lang: lang)
    }

    static func callLine(_ settings: PersonSettings, _ lang: Language) -> String {
        guard let phone = settings.hotlineNumber else { return "" }
        let text = settings.text("page.call", lang, ["phone": "\u{1}"])
        let link = "<a href=\"tel:\(escape(phone))\">\(escape(phone))</a>"
        return "<p class=call>" + escape(text).replacingOccurrences(of: "\u{1}", with: link) + "</p>\n"
    }

    /// "Help near you": the resources `ResourcePicker` chooses for the session; nothing when none are configured.
    static func helpNearYou(_ s: Session, _ settings: PersonSettings) -> String {
        let chosen = ResourcePicker.pick(settings.resources, near: s.location, language: s.spokenLanguage)
        return list(chosen, s.spokenLanguage, settings)
    }

    static func list(_ resources: [Resource], _ lang: Language, _ settings: PersonSettings) -> String {
        guard !resources.isEmpty else { return "" }
        var items: [String] = []
        for r in resources {
            var kind = settings.text("kind." + r.kind.rawValue, lang)
            if r.byMail { kind += " · " + settings.text("resources.by_mail", lang) }
            var item = "<li><strong>\(escape(r.name))</strong> <span class=kind>\(escape(kind))</span>"
            if let phone = r.phone {
                let dial = phone.filter { $0.isNumber || $0 == "+" }
                item += "<br><a href=\"tel:\(escape(dial))\">\(escape(phone))</a>"
            }
            if let url = r.url {
                let shown = url.replacingOccurrences(of: "https://", with: "").replacingOccurrences(
                    of: "http://", with: "")
                item += "<br><a href=\"\(escape(url))\" rel=noreferrer>\(escape(shown))</a>"
            }
            if let address = r.address { item += "<br>\(escape(address))" }
            if let hours = r.hours { item += "<br><span class=hours>\(escape(hours))</span>" }
            items.append(item + "</li>")
        }
        return """
            <section aria-labelledby=help><h2 id=help>\(escape(settings.text("resources.heading", lang)))</h2>
            <ul>\(items.joined())</ul></section>
            """
    }

    static func describe(_ seconds: Int64, _ lang: Language = .en, _ settings: PersonSettings = PersonSettings())
        -> String
    {
        if seconds < 90 { return settings.text("time.seconds", lang, ["n": "\(seconds)"]) }
        return settings.text("time.minutes", lang, ["n": "\((seconds + 30) / 60)"])
    }

    static func isPlausible(_ token: String) -> Bool {
        token.utf8.count == 32 && token.utf8.allSatisfy { IDGenerator.alphabet.utf8.contains($0) }
    }

    static func escape(_ text: String) -> String { ResponderPage.escape(text) }

    static func page(status: HTTPResponse.Status, title: String, body: String, lang: Language) -> Response {
        let html = """
            <!doctype html><html lang=\(lang.rawValue)><head><meta charset=utf-8>
            <meta name=viewport content="width=device-width,initial-scale=1">
            <meta name=robots content=noindex><meta name=referrer content=no-referrer>
            <title>\(escape(title))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:0;padding:1.5em;text-align:center;background:#fff;color:#111}
            h1{font-size:1.2em;margin:0 0 .6em}h2{font-size:1.2em;margin:1.5em 0 .4em}
            button{font-size:2.2em;font-weight:bold;width:100%;max-width:22em;min-height:5em;border:0;border-radius:.4em;
            background:#0a6b2d;color:#fff;cursor:pointer}button:focus{outline:4px solid #111;outline-offset:3px}
            .ok{font-size:1.3em;color:#0a6b2d;font-weight:bold}.due{font-size:1.2em}
            ul{list-style:none;padding:0;margin:0 auto;max-width:30em;text-align:left}li{margin:.8em 0;line-height:1.4}
            .kind,.hours{color:#444}a{color:#0a4a8a}
            </style></head><body><main>
            \(body)
            </main></body></html>
            """
        return personalPage(status: status, html: html)
    }

    /// A page for a person, not an operator (`/c/`, `/r/`): never cached, never framed, no script, forms only to
    /// itself.
    static func personalPage(status: HTTPResponse.Status, html: String) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .init("Content-Security-Policy")!: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
                .init("X-Frame-Options")!: "DENY",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
