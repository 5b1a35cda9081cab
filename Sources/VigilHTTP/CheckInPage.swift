import Hummingbird
import VigilCore

/// The person's "I'm OK" page: one big button, a plain form POST that works without JavaScript, under 10 KB,
/// and nothing on it that names the person or the place.
enum CheckInPage {
    static func get(token: String, ok: Bool, env: APIEnvironment) async -> Response {
        guard isPlausible(token), let s = await env.engine.session(token: token) else {
            return page(status: .notFound, title: "Link not active", body: notActive)
        }
        let remaining = max(0, (s.due - env.engine.now()).wholeSeconds)
        var message = ""
        if ok { message = "<p class=ok role=status>Thank you. Your check-in was received.</p>" }
        let when: String
        if s.state == .active {
            when = "Next check-in due in about \(describe(remaining))."
        } else if s.state == .dispatched {
            when = "Help has been sent. Checking in tells the dispatcher you answered."
        } else {
            when = "Your check-in is late. Press the button if you are OK."
        }
        let body = """
            \(message)
            <form method=post action="/c/\(token)">
            <button type=submit>I'm OK</button>
            </form>
            <p class=due>\(when)</p>
            """
        return page(status: .ok, title: "Check in", body: body)
    }

    static func post(token: String, env: APIEnvironment) async -> Response {
        guard isPlausible(token), let s = await env.engine.session(token: token) else {
            return page(status: .gone, title: "Link not active", body: notActive)
        }
        do {
            // While the store is known to be away, say so at once rather than after every write's deadline.
            if let store = await env.readiness().checks["store"], store != "ok" {
                throw VigilError.unavailable("the store is away")
            }
            try await env.engine.execute(
                s.id, .checkIn(source: .caller, note: nil), actor: Actor(name: "caller", role: "caller"))
        } catch {
            return page(
                status: .serviceUnavailable, title: "Try again",
                body: "<p>Your check-in could not be saved. Please press the button again, or call the line.</p>"
                    + "<form method=post action=\"/c/\(token)\"><button type=submit>I'm OK</button></form>")
        }
        return Response(status: .seeOther, headers: [.location: "/c/\(token)?ok=1", .cacheControl: "no-store"])
    }

    static func describe(_ seconds: Int64) -> String {
        if seconds < 90 { return "\(seconds) seconds" }
        return "\((seconds + 30) / 60) minutes"
    }

    static func isPlausible(_ token: String) -> Bool {
        token.utf8.count == 32 && token.utf8.allSatisfy { IDGenerator.alphabet.utf8.contains($0) }
    }

    static let notActive = "<p>This check-in link is not active. If you need help, call the line.</p>"

    static func page(status: HTTPResponse.Status, title: String, body: String) -> Response {
        let html = """
            <!doctype html><html lang=en><head><meta charset=utf-8>
            <meta name=viewport content="width=device-width,initial-scale=1">
            <meta name=robots content=noindex><meta name=referrer content=no-referrer>
            <title>\(title)</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:0;padding:1.5em;text-align:center;background:#fff;color:#111}
            button{font-size:2.2em;font-weight:bold;width:100%;max-width:22em;min-height:5em;border:0;border-radius:.4em;
            background:#0a6b2d;color:#fff;cursor:pointer}button:focus{outline:4px solid #111;outline-offset:3px}
            .ok{font-size:1.3em;color:#0a6b2d;font-weight:bold}.due{font-size:1.2em}
            </style></head><body>
            \(body)
            </body></html>
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
