import VigilCore

/// Renders a notification as an OASIS CAP 1.2 `<alert>`.
public enum CAPRenderer {
    /// The CAP document for a webhook envelope sent as `identifier`.
    /// `restriction` names the receiving centre (CAP `scope` `Restricted`); `hotline` is the sender; `fields` is the
    /// target's `fields:` (nil: the defaults by message).
    public static func render(
        envelope body: [UInt8], identifier: WebhookID, restriction: String = "dispatch", hotline: Hotline = Hotline(),
        fields: Set<SessionField>? = nil
    ) throws -> [UInt8] {
        try render(
            envelope: try VigilJSON.decode(JSONValue.self, from: body), identifier: identifier,
            restriction: restriction, hotline: hotline, fields: fields)
    }

    /// The same from the parsed envelope: a `dispatch.*` message through its typed brief, any other as a plain alert.
    public static func render(
        envelope env: JSONValue, identifier: WebhookID, restriction: String = "dispatch", hotline: Hotline = Hotline(),
        fields: Set<SessionField>? = nil
    ) throws -> [UInt8] {
        if let brief = DispatchPayload.brief(env, fields: fields, hotline: hotline) {
            return render(brief, identifier: identifier, restriction: restriction)
        }
        return plain(
            StoredEnvelope.read(env), identifier: identifier, sender: hotline.sender ?? Hotline.defaultSender,
            restriction: restriction)
    }

    /// A dispatch message from its typed brief (the facts, the summary, the hotline, the references).
    public static func render(_ brief: DispatchBrief, identifier: WebhookID, restriction: String) -> [UInt8] {
        Array(dispatch(brief, identifier: identifier, restriction: restriction).utf8)
    }

    /// A `dispatch.*` message: everything a call-taker needs, the summary first.
    static func dispatch(_ b: DispatchBrief, identifier: WebhookID, restriction: String) -> String {
        let sender = b.hotline.sender ?? Hotline.defaultSender
        let msgType: String
        switch b.type {
        case .dispatchCancelled: msgType = "Cancel"
        case .dispatchUpdated: msgType = "Update"
        default: msgType = "Alert"
        }
        var x = head(
            identifier: identifier, sender: sender, sent: b.sent, status: "Actual", msgType: msgType,
            restriction: restriction, references: b.references.map { ($0.id, $0.sent) })
        x += "  <incidents>\(esc(b.facts.incident))</incidents>\n"
        x += "  <info>\n"
        x += "    <language>en-US</language>\n"
        x += "    <category>Health</category>\n"
        x += "    <event>Suspected overdose</event>\n"
        x += "    <urgency>Immediate</urgency>\n"
        x += "    <severity>Extreme</severity>\n"
        x += "    <certainty>\(b.type == .dispatchCancelled ? "Unlikely" : "Likely")</certainty>\n"
        if let org = b.hotline.organization { x += "    <senderName>\(esc(org))</senderName>\n" }
        let headline: String
        switch b.type {
        case .dispatchCancelled: headline = "Cancel \(b.facts.incident): \(b.facts.cancelReason ?? "called off")"
        case .dispatchUpdated: headline = "Update \(b.facts.incident): suspected overdose, details changed"
        default: headline = "Suspected overdose: person stopped answering (\(b.facts.incident))"
        }
        x += "    <headline>\(esc(String(headline.prefix(160))))</headline>\n"
        var description = b.summary + "\n\nHistory: " + b.history + "."
        if let reason = b.reason { description += "\nReason: " + reason + "." }
        x += "    <description>\(esc(description))</description>\n"
        if let access = b.accessNotes { x += "    <instruction>\(esc("Access: " + access))</instruction>\n" }
        if let n = b.hotline.callbackNumber {
            let who = [b.hotline.organization, b.facts.operatorOnDuty.map { "operator \($0)" }].compactMap { $0 }
            x += "    <contact>\(esc(n + (who.isEmpty ? "" : " (" + who.joined(separator: ", ") + ")")))</contact>\n"
        }
        func parameter(_ name: String, _ value: String?) {
            guard let value else { return }
            x += "    <parameter><valueName>\(name)</valueName><value>\(esc(value))</value></parameter>\n"
        }
        parameter("incident", b.facts.incident)
        parameter("unit", b.location?.unit)
        parameter("callback_number", b.callbackNumber)
        parameter("hotline_callback_number", b.hotline.callbackNumber)
        parameter("substance", b.substance)
        let coordinates = b.location.flatMap { l in l.latitude.flatMap { lat in l.longitude.map { (lat, $0) } } }
        let accuracy = b.location?.accuracyM
        if let (lat, lon) = coordinates {
            // No measured accuracy: no <circle> may claim one.
            if accuracy == nil { parameter("coordinates", "\(decimal(lat, 6)),\(decimal(lon, 6))") }
        }
        parameter("vigil_session", b.sessionID.isEmpty ? nil : b.sessionID)
        x += "    <area>\n"
        x += "      <areaDesc>\(esc(b.place ?? "location withheld from this receiver"))</areaDesc>\n"
        if let (lat, lon) = coordinates, let accuracy {
            x += "      <circle>\(decimal(lat, 6)),\(decimal(lon, 6)) \(kilometres(accuracy))</circle>\n"
        }
        x += "    </area>\n"
        x += "  </info>\n"
        x += "</alert>\n"
        return x
    }

    /// A radius in kilometres from metres, rounded up to the metre: never narrower than what was measured.
    static func kilometres(_ metres: Double) -> String {
        guard metres.isFinite, metres > 0 else { return "0" }
        let m = Int64(min(metres, 1e9).rounded(.up))
        let frac = m % 1000
        if frac == 0 { return "\(m / 1000)" }
        var f = String(frac)
        while f.count < 3 { f = "0" + f }
        while f.hasSuffix("0") { f.removeLast() }
        return "\(m / 1000).\(f)"
    }

    /// A plain decimal (never an exponent) with at most `places` digits after the point.
    static func decimal(_ d: Double, _ places: Int) -> String {
        guard d.isFinite, abs(d) < 1e9 else { return "0" }
        var scale: Double = 1
        for _ in 0..<places { scale *= 10 }
        let n = Int64((abs(d) * scale).rounded())
        let whole = n / Int64(scale)
        var frac = String(n % Int64(scale))
        while frac.count < places { frac = "0" + frac }
        while frac.hasSuffix("0") { frac.removeLast() }
        let sign = d < 0 && n != 0 ? "-" : ""
        return frac.isEmpty ? "\(sign)\(whole)" : "\(sign)\(whole).\(frac)"
    }

    /// The `<alert>` element's head, up to and with `<references>` (`sender,identifier,sent` each).
    static func head(
        identifier: WebhookID, sender: String, sent: Timestamp, status: String, msgType: String, restriction: String,
        references: [(id: WebhookID, sent: Timestamp)]
    ) -> String {
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
        x += "  <identifier>\(esc(identifier.rawValue))</identifier>\n"
        x += "  <sender>\(esc(sender))</sender>\n"
        x += "  <sent>\(capTime(sent))</sent>\n"
        x += "  <status>\(status)</status>\n"
        x += "  <msgType>\(msgType)</msgType>\n"
        x += "  <scope>Restricted</scope>\n"
        x += "  <restriction>\(esc("for \(restriction) only"))</restriction>\n"
        if !references.isEmpty {
            let refs = references.map { "\(esc(sender)),\(esc($0.id.rawValue)),\(capTime($0.sent))" }
            x += "  <references>\(refs.joined(separator: " "))</references>\n"
        }
        return x
    }

    /// Every other message (`test.ping`, and envelopes without dispatch facts).
    static func plain(_ env: StoredEnvelope?, identifier: WebhookID, sender: String, restriction: String) -> [UInt8] {
        let type = env?.type ?? "unknown"
        let sent = env?.timestamp ?? Timestamp(millis: 0)
        let data = env?.data
        let session = data?.session
        let location = session?.location
        let caller = session?.caller
        let isCancel = type == EventType.dispatchCancelled.rawValue || type == EventType.escalationResolved.rawValue
        let status = type == EventType.testPing.rawValue ? "Test" : type.hasPrefix("system.") ? "System" : "Actual"
        let msgType = isCancel ? "Cancel" : type == "dispatch.updated" ? "Update" : "Alert"
        let refs = data?.references ?? []
        let parts: [(prefix: String, value: String?)] = [
            ("", location?.address), ("unit ", location?.unit), ("", location?.city), ("", location?.region),
            ("", location?.postalCode), ("", location?.country),
        ]
        let areaParts = parts.compactMap { p in p.value.flatMap { $0.isEmpty ? nil : p.prefix + $0 } }
        var x = head(
            identifier: identifier, sender: sender, sent: sent, status: status, msgType: msgType,
            restriction: restriction, references: refs.map { ($0, sent) })
        x += "  <info>\n"
        x += "    <category>Health</category>\n"
        x += "    <event>\(esc(type))</event>\n"
        x += "    <urgency>Immediate</urgency>\n"
        x += "    <severity>Extreme</severity>\n"
        x += "    <certainty>\(isCancel ? "Unlikely" : "Likely")</certainty>\n"
        x +=
            "    <headline>\(esc(isCancel ? "Cancel: person checked in or session ended" : "Possible overdose: person unresponsive"))</headline>\n"
        var description = data?.reason ?? type
        if let alias = caller?.alias { description += ". Caller: \(alias)" }
        if let phone = caller?.callbackNumber { description += ". Callback: \(phone)" }
        if let substance = session?.substance { description += ". Using: \(substance)" }
        x += "    <description>\(esc(description))</description>\n"
        if let access = location?.accessNotes {
            x += "    <instruction>\(esc("Access: " + access))</instruction>\n"
        }
        if let id = session?.id {
            x += "    <parameter><valueName>vigil_session</valueName><value>\(esc(id))</value></parameter>\n"
        }
        let coordinates = number(location?.latitude).flatMap { lat in number(location?.longitude).map { (lat, $0) } }
        let accuracyKm = location?.accuracyM?.doubleValue.map { $0 / 1000 }
        if let (lat, lon) = coordinates, accuracyKm == nil {
            // No measured accuracy: no <circle> may claim one.
            x += "    <parameter><valueName>coordinates</valueName><value>\(lat),\(lon)</value></parameter>\n"
        }
        x += "    <area>\n"
        x += "      <areaDesc>\(esc(areaParts.joined(separator: ", ")))</areaDesc>\n"
        if let (lat, lon) = coordinates, let km = accuracyKm {
            x += "      <circle>\(lat),\(lon) \(km)</circle>\n"
        }
        x += "    </area>\n"
        x += "  </info>\n"
        x += "</alert>\n"
        return Array(x.utf8)
    }

    static func number(_ v: JSONValue?) -> String? {
        switch v {
        case .double(let d): return String(d)
        case .int(let i): return String(i)
        default: return nil
        }
    }

    /// CAP's dateTime: whole seconds with an offset, UTC written `-00:00` as CAP 1.2 requires.
    static func capTime(_ t: Timestamp) -> String {
        let s = t.rfc3339
        return String(s.prefix(19)) + "-00:00"
    }

    /// Escapes for XML text and drops what XML 1.0 cannot carry (C0 controls but tab and newlines, U+FFFE/FFFF,
    /// lone surrogates) and what would reorder text for a reader (bidi overrides and isolates): input is validated
    /// before it gets here, but a body that is not well-formed is refused by a strict receiver and never retried.
    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                if CharacterPolicy.isAllowedInXML(u) && !CharacterPolicy.isBidiControl(u) {
                    out.unicodeScalars.append(u)
                } else {
                    out += "\u{FFFD}"
                }
            }
        }
        return out
    }
}
