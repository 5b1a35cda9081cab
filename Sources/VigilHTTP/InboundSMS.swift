import Crypto
import Foundation
import Hummingbird
import Synchronization
import VigilCore

/// `POST /v1/inbound/sms`: check-ins by text through Twilio's inbound webhook, authenticated by
/// `X-Twilio-Signature` (no bearer token: a gateway cannot send one).
public final class InboundSMS: Sendable {
    /// The auth token that keys the signature.
    let authToken: [UInt8]
    /// `public_url` without a trailing slash: the signature covers the URL the gateway called.
    let publicURL: String
    /// Texts from numbers that match no open session (the numbers themselves are never kept or logged).
    public let unknownSenders = Atomic<Int>(0)

    /// Creates the endpoint's state.
    public init(authToken: String, publicURL: String) {
        self.authToken = Array(authToken.utf8)
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
    }

    /// Twilio's scheme: base64 HMAC-SHA1, keyed with the auth token, of the URL followed by every POST parameter's
    /// name and value, sorted by name.
    func expectedSignature(url: String, params: [(String, String)]) -> String {
        Self.signature(url: url, params: params, key: authToken)
    }

    /// The signature under `key` (an auth token's bytes).
    static func signature(url: String, params: [(String, String)], key: [UInt8]) -> String {
        var text = url
        for (k, v) in params.sorted(by: { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }) { text += k + v }
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: key))
        return Data(mac).base64EncodedString()
    }

    /// What a text asks for.
    enum Intent: Equatable {
        case checkIn, help, resources, other
    }

    /// Case-folded, `’` read as `'`, punctuation, symbols and emoji removed, spaces collapsed.
    static func normalize(_ body: String) -> String {
        let folded = body.replacingOccurrences(of: "\u{2019}", with: "'").folding(
            options: [.caseInsensitive], locale: nil
        ).lowercased()
        let kept = folded.unicodeScalars.map { u -> Character in
            if u == "'" || CharacterSet.alphanumerics.contains(u) { return Character(u) }
            return " "
        }
        return String(kept).split(separator: " ").joined(separator: " ")
    }

    /// The words of every supported language, understood from anyone (docs/contract.md, "Language"), as
    /// `normalize` leaves them; accents are kept and also matched without them (`si`, `ca va`).
    static let checkInWords: Set<String> = [
        "ok", "okay", "k", "yes", "im ok", "i'm ok", "si", "sí", "estoy bien", "bien", "oui", "ça va", "ca va",
        "je vais bien",
    ]
    static let helpWords: Set<String> = ["help", "911", "sos", "ayuda", "auxilio", "aide", "au secours"]
    static let resourceWords: Set<String> = ["info", "recursos", "ressources"]

    static func intent(_ body: String) -> Intent {
        let n = normalize(body)
        let plain = n.folding(options: [.diacriticInsensitive], locale: nil)
        let either = { (words: Set<String>) in words.contains(n) || words.contains(plain) }
        if either(checkInWords) { return .checkIn }
        if either(helpWords) { return .help }
        if either(resourceWords) { return .resources }
        return .other
    }

    static let empty = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"

    /// A TwiML answer of one message.
    static func message(_ text: String) -> String {
        let escaped = text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>" + escaped + "</Message></Response>"
    }

    static func twiml(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/xml; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Parses `application/x-www-form-urlencoded`; nil for anything malformed.
    static func form(_ bytes: [UInt8]) -> [(String, String)]? {
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        var out: [(String, String)] = []
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let k = decode(kv[0]), let v = decode(kv.count > 1 ? kv[1] : "") else { return nil }
            out.append((k, v))
        }
        return out
    }

    static func decode(_ s: Substring) -> String? {
        String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    static func receive(_ req: Request, _ env: APIEnvironment) async throws -> Response {
        guard let sms = env.sms else { throw VigilError(.notFound, "check-ins by text are not configured") }
        var req = req
        let bytes = try await VigilAPI.body(&req)
        guard let params = form(bytes) else { throw VigilError.invalid("the body must be form-encoded") }
        var url = sms.publicURL + "/v1/inbound/sms"
        if let q = req.uri.query, !q.isEmpty { url += "?" + q }
        let presented = Array((req.headers[.init("X-Twilio-Signature")!] ?? "").utf8)
        let expected = Array(sms.expectedSignature(url: url, params: params).utf8)
        guard !presented.isEmpty, TokenAuthenticator.constantTimeEquals(presented, expected) else {
            env.logger.warning("inbound text refused: missing or wrong signature")
            throw APIError(
                status: .forbidden, code: "forbidden", message: "the X-Twilio-Signature is missing or wrong")
        }
        let value = { (name: String) in params.first { $0.0 == name }?.1 }
        let sid = value("MessageSid")
        // Every instance shares the memory of answered texts: in the store, for a day.
        if let sid, let keys = env.store as? any IdempotencyStore {
            return try await once(sid, keys, env) {
                try await handle(from: value("From"), body: value("Body") ?? "", sms, env)
            }
        }
        return twiml(try await handle(from: value("From"), body: value("Body") ?? "", sms, env))
    }

    /// Answers a text once per `MessageSid` across every instance: a replay (the gateway's retry, or a captured
    /// request sent again) gets the first answer and changes nothing; one that arrives while the first is still
    /// being handled is a 409, which the gateway retries.
    static func once(
        _ sid: String, _ keys: any IdempotencyStore, _ env: APIEnvironment, _ run: () async throws -> String
    ) async throws -> Response {
        // One entry per text, whatever its body: the signature already binds the body to the request.
        let entry = IdempotencyEntry.of(scope: "sms", key: sid, fingerprint: "sms")
        let answer = try await remembered(entry, keys, env, busy: "this text is still being handled") {
            IdempotentResponse(status: 200, contentType: "text/xml; charset=utf-8", body: Array(try await run().utf8))
        }
        return twiml(String(decoding: answer.body, as: UTF8.self))
    }

    /// Runs `run` once per `entry` across every instance and keeps its answer for a day: a repeat gets the first
    /// answer without running; a repeat while the first still runs is a 409 saying `busy`; a failure gives the entry
    /// back so that the gateway's retry runs.
    static func remembered(
        _ entry: IdempotencyEntry, _ keys: any IdempotencyStore, _ env: APIEnvironment, busy: String,
        _ run: () async throws -> IdempotentResponse
    ) async throws -> IdempotentResponse {
        switch try await keys.claimIdempotency(entry, at: env.engine.now()) {
        case .completed(let first): return first
        case .inProgress, .mismatch: throw APIError(status: .conflict, code: "in_progress", message: busy)
        case .claimed: break
        }
        let answer: IdempotentResponse
        do { answer = try await run() } catch {
            try? await keys.releaseIdempotency(entry)
            throw error
        }
        do { try await keys.completeIdempotency(entry, response: answer) } catch {
            env.logger.error("a text's answer could not be recorded", metadata: ["error": "\(error)"])
        }
        return answer
    }

    /// Applies a text to the most recently started open session whose callback number sent it.
    static func handle(from: String?, body: String, _ sms: InboundSMS, _ env: APIEnvironment)
        async throws -> String
    {
        let country = env.defaultCountry
        let number = from.flatMap { PhoneNumber.e164($0, defaultCountry: country) }
        // Numbers are stored in E.164; one stored before that, as typed, is read the same way here.
        guard let number,
            let s = await env.engine.openSessions().filter({
                $0.caller.callbackNumber.flatMap { PhoneNumber.e164($0, defaultCountry: country) } == number
            }).max(by: { $0.startedAt < $1.startedAt })
        else {
            sms.unknownSenders.add(1, ordering: .relaxed)
            if intent(body) == .help { return await unknownHelp(from: from ?? "", env) }
            return empty
        }
        let actor = Actor(name: "sms", role: "sms")
        let text = String(body.prefix(Input.maxText))
        switch intent(body) {
        case .checkIn:
            try await env.engine.execute(s.id, .checkIn(source: .sms, note: nil), actor: actor)
            env.logger.info("check-in by text", metadata: ["session": "\(s.id)"])
            return message(env.person.text("sms.confirmed", s.spokenLanguage))
        case .help:
            try await env.engine.execute(s.id, .smsHelp, actor: actor)
            env.logger.notice("help asked by text", metadata: ["session": "\(s.id)"])
            return empty
        case .resources:
            env.logger.info("resources asked by text", metadata: ["session": "\(s.id)"])
            return message(resourcesAnswer(s, env.person))
        case .other:
            let clean =
                CharacterPolicy.problem(in: text) == nil
                ? text
                : String(
                    text.unicodeScalars.filter {
                        CharacterPolicy.isAllowedInXML($0) && !CharacterPolicy.isBidiControl($0)
                    }.map(Character.init))
            try await env.engine.execute(s.id, .smsText(clean), actor: actor)
            return empty
        }
    }
}

extension InboundSMS {
    /// The answer to `info`: the three nearest resources, name and phone, in the session's language.
    static func resourcesAnswer(_ s: Session, _ settings: PersonSettings) -> String {
        let lang = s.spokenLanguage
        let chosen = ResourcePicker.forText(settings.resources, near: s.location, language: lang)
        guard !chosen.isEmpty else { return settings.text("sms.resources_none", lang) }
        let list = chosen.map { "\($0.name): \($0.phone ?? "")" }.joined(separator: "; ")
        return settings.text("sms.resources", lang, ["list": list])
    }

    static let unmatched =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>We could not match this number to a check-in. "
        + "If someone needs help now, call 911.</Message></Response>"

    /// A help word from a number that matches no open session: the sender is told to call 911, and the operators
    /// see `sms.unknown_help` (a system event, kept in the log, with the number masked to its last four digits).
    static func unknownHelp(from: String, _ env: APIEnvironment) async -> String {
        let masked = PhoneNumber.masked(from)
        let event = EventData.SMSUnknownHelp(
            from: masked,
            reason: "a text asked for help from a number that matches no open session (\(masked)); "
                + "it was told to call 911")
        env.logger.warning("help asked by text from a number that matches no open session")
        do {
            _ = try await env.store.commit(
                CommitBatch(
                    session: nil, expectedVersion: nil, sessionID: nil,
                    events: [NewEvent(event, at: env.engine.now())], outbox: [], outboxUpdates: []))
        } catch {
            // The sender is still told to call 911: the answer matters more than the record.
            env.logger.error("the unmatched help text could not be recorded", metadata: ["error": "\(error)"])
        }
        return unmatched
    }

    /// The endpoint's counter in Prometheus text (empty when texts are not configured).
    public static func metrics(_ sms: InboundSMS?) -> String {
        guard let sms else { return "" }
        return "# HELP vigil_sms_unknown_sender_total Texts from numbers that match no open session.\n"
            + "# TYPE vigil_sms_unknown_sender_total counter\n"
            + "vigil_sms_unknown_sender_total \(sms.unknownSenders.load(ordering: .relaxed))\n"
    }
}
