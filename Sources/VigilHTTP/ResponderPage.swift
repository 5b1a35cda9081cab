import Hummingbird
import VigilCore

/// A responder's page, `/r/{token}`: who asked (alias), where (address, unit, access notes) and three answers, as
/// plain form buttons that work without JavaScript. The link is the capability: no account, no cookie, so there is
/// no session for another site to ride on.
enum ResponderPage {
    static func post(_ req: Request, _ ctx: VigilContext, _ env: APIEnvironment) async throws -> Response {
        let token = try ctx.parameters.require("token")
        var req = req
        let bytes = try await VigilAPI.body(&req)
        return await post(token: token, form: bytes, env: env)
    }

    static func get(token: String, env: APIEnvironment) async -> Response {
        guard CheckInPage.isPlausible(token) else { return notFound(env) }
        guard let found = await env.engine.session(responderToken: token) else { return gone(env) }
        let (s, i) = found
        let lang = s.spokenLanguage
        let t = { (key: String, args: [String: String]) in escape(env.person.text(key, lang, args)) }
        let link = s.responderLinks?.first { $0.index == i }
        let name = (s.responders ?? []).indices.contains(i) ? s.responders?[i].name : nil
        let alias = s.caller.alias.flatMap { $0.isEmpty ? nil : $0 } ?? env.person.text("responder.someone", lang)
        var parts: [String] = []
        if let name { parts.append("<p>\(t("responder.hi", ["name": name]))</p>") }
        parts.append("<h1>\(t("responder.heading", ["alias": alias]))</h1>")
        var place = "<p class=where><strong>\(escape(s.location.address))</strong>"
        if let unit = s.location.unit, !unit.isEmpty { place += "<br>\(t("responder.unit", ["unit": unit]))" }
        place += "</p>"
        parts.append(place)
        if let notes = s.location.accessNotes, !notes.isEmpty {
            parts.append("<p class=notes>\(t("responder.notes", ["notes": notes]))</p>")
        }
        parts.append("<p class=status role=status>\(escape(status(s, link, env)))</p>")
        parts.append(
            """
            <form method=post action="/r/\(token)">
            <button class=going type=submit name=answer value=going>\(t("responder.going", [:]))</button>
            <button class=ok type=submit name=answer value=ok>\(t("responder.ok", [:]))</button>
            <button class=ems type=submit name=answer value=ems>\(t("responder.ems", [:]))</button>
            </form>
            <p class=small>\(t("responder.small", [:]))</p>
            """)
        return page(
            status: .ok, title: env.person.text("responder.title", lang, ["alias": alias]),
            body: parts.joined(separator: "\n"), lang: lang)
    }

    static func post(token: String, form: [UInt8], env: APIEnvironment) async -> Response {
        guard CheckInPage.isPlausible(token) else { return notFound(env) }
        guard let found = await env.engine.session(responderToken: token) else { return gone(env) }
        let (s, i) = found
        let lang = s.spokenLanguage
        let t = { (key: String) in escape(env.person.text(key, lang)) }
        guard let answer = answer(in: form) else {
            return page(
                status: .badRequest, title: env.person.text("responder.choose_title", lang),
                body: "<h1>\(t("responder.choose_title"))</h1><p>\(t("responder.choose"))</p>"
                    + "<p><a href=\"/r/\(token)\">\(t("responder.back"))</a></p>", lang: lang)
        }
        do {
            try await env.engine.execute(
                s.id, .responderAnswer(index: i, answer: answer),
                actor: Actor(name: ActorName(rawValue: "responder \(i + 1)"), role: "responder"))
        } catch let e as VigilError where e == .sessionEnded {
            return gone(env, lang)
        } catch {
            return page(
                status: .serviceUnavailable, title: env.person.text("page.error_title", lang),
                body: "<h1>\(t("page.error_title"))</h1><p>\(t("responder.error"))</p>"
                    + "<p><a href=\"/r/\(token)\">\(t("responder.back"))</a></p>", lang: lang)
        }
        env.logger.info("responder answered", metadata: ["session": "\(s.id)", "answer": "\(answer.rawValue)"])
        return Response(status: .seeOther, headers: [.location: "/r/\(token)", .cacheControl: "no-store"])
    }

    /// `answer=going|ok|ems` from a form body; nil for anything else.
    static func answer(in form: [UInt8]) -> ResponderAnswer? {
        guard form.count <= 1024 else { return nil }
        let text = String(decoding: form, as: UTF8.self)
        var found: ResponderAnswer?
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, kv[0] == "answer" else { continue }
            guard let a = ResponderAnswer(rawValue: String(kv[1])), found == nil || found == a else { return nil }
            found = a
        }
        return found
    }

    /// Where the responder's request stands, in the session's language (plain text: the caller escapes it).
    static func status(_ s: Session, _ link: ResponderLink?, _ env: APIEnvironment) -> String {
        let lang = s.spokenLanguage
        let t = { (key: String) in env.person.text(key, lang) }
        switch link?.answer {
        case .going?:
            if let until = s.escalation?.pausedUntil, until > env.engine.now() {
                let left = (until - env.engine.now()).wholeSeconds
                return env.person.text(
                    "responder.status.going_wait", lang, ["time": CheckInPage.describe(left, lang, env.person)])
            }
            return t("responder.status.going")
        case .ok?:
            return t("responder.status.ok")
        case .ems?:
            return t("responder.status.ems")
        case nil:
            return s.state == .active ? t("responder.status.checked_in") : t("responder.status.ask")
        }
    }

    /// Escapes text for an element's content or a double-quoted attribute (every attribute here is double-quoted, so
    /// an apostrophe stays as the person wrote it: "I'm OK").
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func notFound(_ env: APIEnvironment) -> Response {
        let lang = env.person.language
        let title = env.person.text("responder.not_found_title", lang)
        return page(
            status: .notFound, title: title,
            body: "<h1>\(escape(title))</h1><p>\(escape(env.person.text("responder.not_found", lang)))</p>", lang: lang)
    }

    static func gone(_ env: APIEnvironment, _ language: Language? = nil) -> Response {
        let lang = language ?? env.person.language
        let title = env.person.text("page.not_active_title", lang)
        return page(
            status: .gone, title: title,
            body: "<h1>\(escape(title))</h1><p>\(escape(env.person.text("responder.gone", lang)))</p>", lang: lang)
    }

    static func page(status: HTTPResponse.Status, title: String, body: String, lang: Language) -> Response {
        let html = """
            <!doctype html><html lang=\(lang.rawValue)><head><meta charset=utf-8>
            <meta name=viewport content="width=device-width,initial-scale=1">
            <meta name=robots content=noindex><meta name=referrer content=no-referrer>
            <title>\(escape(title))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:0;padding:1.2em;background:#fff;color:#111;max-width:34em}
            h1{font-size:1.4em}.where{font-size:1.3em}.notes{font-size:1.1em}.status{font-weight:bold;color:#0a4a8a}
            button{display:block;font-size:1.6em;font-weight:bold;width:100%;min-height:3.2em;margin:.5em 0;border:0;
            border-radius:.4em;color:#fff;cursor:pointer}button:focus{outline:4px solid #111;outline-offset:3px}
            .going{background:#0a4a8a}.ok{background:#0a6b2d}.ems{background:#b00020}.small{font-size:.95em}
            </style></head><body><main>
            \(body)
            </main></body></html>
            """
        return CheckInPage.personalPage(status: status, html: html)
    }
}
