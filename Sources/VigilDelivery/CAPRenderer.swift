import VigilCore

/// Renders a notification as an OASIS CAP 1.2 `<alert>`.
public enum CAPRenderer {
    /// The CAP document for a webhook envelope sent as `identifier`.
    /// `restriction` names the receiving centre (CAP `scope` `Restricted`).
    public static func render(
        envelope body: [UInt8], identifier: String, sender: String = "vigil", restriction: String = "dispatch"
    ) throws -> [UInt8] {
        let env = try VigilJSON.decode(JSONValue.self, from: body)
        let type = env["type"]?.stringValue ?? "unknown"
        let sent = env["timestamp"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) ?? Timestamp(millis: 0)
        let data = env["data"] ?? [:]
        let session = data["session"] ?? [:]
        let location = session["location"] ?? [:]
        let caller = session["caller"] ?? [:]
        let isCancel = type == EventType.dispatchCancelled.rawValue || type == EventType.escalationResolved.rawValue
        let status = type == EventType.testPing.rawValue ? "Test" : type.hasPrefix("system.") ? "System" : "Actual"
        let msgType = isCancel ? "Cancel" : type == "dispatch.updated" ? "Update" : "Alert"
        let refs =
            (data["references"].flatMap { v -> [String]? in
                if case .array(let a) = v { return a.compactMap(\.stringValue) }
                return nil
            }) ?? []
        var areaParts: [String] = []
        for key in ["address", "unit", "city", "region", "postal_code", "country"] {
            if let v = location[key]?.stringValue, !v.isEmpty { areaParts.append(key == "unit" ? "unit \(v)" : v) }
        }
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
        x += "  <identifier>\(esc(identifier))</identifier>\n"
        x += "  <sender>\(esc(sender))</sender>\n"
        x += "  <sent>\(capTime(sent))</sent>\n"
        x += "  <status>\(status)</status>\n"
        x += "  <msgType>\(msgType)</msgType>\n"
        x += "  <scope>Restricted</scope>\n"
        x += "  <restriction>\(esc("for \(restriction) only"))</restriction>\n"
        if !refs.isEmpty {
            x +=
                "  <references>\(refs.map { "\(esc(sender)),\(esc($0)),\(capTime(sent))" }.joined(separator: " "))</references>\n"
        }
        x += "  <info>\n"
        x += "    <category>Health</category>\n"
        x += "    <event>\(esc(type))</event>\n"
        x += "    <urgency>Immediate</urgency>\n"
        x += "    <severity>Extreme</severity>\n"
        x += "    <certainty>\(isCancel ? "Unlikely" : "Likely")</certainty>\n"
        x +=
            "    <headline>\(esc(isCancel ? "Cancel: person checked in or session ended" : "Possible overdose: person unresponsive"))</headline>\n"
        var description = data["reason"]?.stringValue ?? type
        if let alias = caller["alias"]?.stringValue { description += ". Caller: \(alias)" }
        if let phone = caller["callback_number"]?.stringValue { description += ". Callback: \(phone)" }
        if let substance = session["substance"]?.stringValue { description += ". Using: \(substance)" }
        x += "    <description>\(esc(description))</description>\n"
        if let access = location["access_notes"]?.stringValue {
            x += "    <instruction>\(esc("Access: " + access))</instruction>\n"
        }
        if let id = session["id"]?.stringValue {
            x += "    <parameter><valueName>vigil_session</valueName><value>\(esc(id))</value></parameter>\n"
        }
        let coordinates = number(location["latitude"]).flatMap { lat in number(location["longitude"]).map { (lat, $0) }
        }
        let accuracyKm = number(location["accuracy_m"]).flatMap(Double.init).map { $0 / 1000 }
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
