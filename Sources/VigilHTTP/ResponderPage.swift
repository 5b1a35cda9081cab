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
        guard CheckInPage.isPlausible(token) else { return notFound }
        guard let found = await env.engine.session(responderToken: token) else { return gone }
        let (s, i) = found
        let link = s.responderLinks?.first { $0.index == i }
        let name = (s.responders ?? []).indices.contains(i) ? s.responders?[i].name : nil
        let alias = escape(s.caller.alias.flatMap { $0.isEmpty ? nil : $0 } ?? "The person")
        var parts: [String] = []
        if let name { parts.append("<p>Hi \(escape(name)).</p>") }
        parts.append("<h1>\(alias) asked for you to check on them now.</h1>")
        var place = "<p class=where><strong>\(escape(s.location.address))</strong>"
        if let unit = s.location.unit, !unit.isEmpty { place += "<br>Unit \(escape(unit))" }
        place += "</p>"
        parts.append(place)
        if let notes = s.location.accessNotes, !notes.isEmpty {
            parts.append("<p class=notes>How to get in: \(escape(notes))</p>")
        }
        parts.append("<p class=status role=status>\(status(s, link, env))</p>")
        parts.append(
            """
            <form method=post action="/r/\(token)">
            <button class=going type=submit name=answer value=going>I'm going</button>
            <button class=ok type=submit name=answer value=ok>I'm there, they're OK</button>
            <button class=ems type=submit name=answer value=ems>Call EMS now</button>
            </form>
            <p class=small>If they do not wake up or are not breathing, call emergency services yourself.</p>
            """)
        return page(status: .ok, title: "Please check on \(alias)", body: parts.joined(separator: "\n"))
    }

    static func post(token: String, form: [UInt8], env: APIEnvironment) async -> Response {
        guard CheckInPage.isPlausible(token) else { return notFound }
        guard let found = await env.engine.session(responderToken: token) else { return gone }
        let (s, i) = found
        guard let answer = answer(in: form) else {
            return page(
                status: .badRequest, title: "Choose an answer",
                body: "<p>Please choose one of the buttons.</p><p><a href=\"/r/\(token)\">Back</a></p>")
        }
        do {
            try await env.engine.execute(
                s.id, .responderAnswer(index: i, answer: answer),
                actor: Actor(name: ActorName(rawValue: "responder \(i + 1)"), role: "responder"))
        } catch let e as VigilError where e == .sessionEnded {
            return gone
        } catch {
            return page(
                status: .serviceUnavailable, title: "Try again",
                body: "<p>Your answer could not be saved. Please try again, or call the line.</p>"
                    + "<p><a href=\"/r/\(token)\">Back</a></p>")
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

    static func status(_ s: Session, _ link: ResponderLink?, _ env: APIEnvironment) -> String {
        switch link?.answer {
        case .going?:
            if let until = s.escalation?.pausedUntil, until > env.engine.now() {
                let left = (until - env.engine.now()).wholeSeconds
                return "Thank you: we recorded that you are going. The line waits about \(CheckInPage.describe(left)) "
                    + "for your next answer before it calls EMS."
            }
            return "Thank you: we recorded that you are going."
        case .ok?:
            return "Thank you: we recorded that they are OK."
        case .ems?:
            return "We recorded that EMS is needed. The line is sending help."
        case nil:
            return s.state == .active
                ? "They have checked in since we contacted you. You may still go if you can."
                : "Please tell us if you can go."
        }
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    static var notFound: Response {
        page(status: .notFound, title: "Link not found", body: "<p>This link is not valid.</p>")
    }

    static var gone: Response {
        page(
            status: .gone, title: "Link not active",
            body: "<p>This request is over: you are no longer needed. Thank you. If you are worried, call the line.</p>"
        )
    }

    static func page(status: HTTPResponse.Status, title: String, body: String) -> Response {
        let html = """
            <!doctype html><html lang=en><head><meta charset=utf-8>
            <meta name=viewport content="width=device-width,initial-scale=1">
            <meta name=robots content=noindex><meta name=referrer content=no-referrer>
            <title>\(title)</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:0;padding:1.2em;background:#fff;color:#111;max-width:34em}
            h1{font-size:1.4em}.where{font-size:1.3em}.notes{font-size:1.1em}.status{font-weight:bold;color:#0a4a8a}
            button{display:block;font-size:1.6em;font-weight:bold;width:100%;min-height:3.2em;margin:.5em 0;border:0;
            border-radius:.4em;color:#fff;cursor:pointer}button:focus{outline:4px solid #111;outline-offset:3px}
            .going{background:#0a4a8a}.ok{background:#0a6b2d}.ems{background:#b00020}.small{font-size:.95em}
            </style></head><body>
            \(body)
            </body></html>
            """
        return CheckInPage.personalPage(status: status, html: html)
    }
}
