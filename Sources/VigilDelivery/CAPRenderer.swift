import VigilCore

/// Renders a notification as an OASIS CAP 1.2 `<alert>`.
public enum CAPRenderer {
    /// The CAP document for a webhook envelope sent as `identifier`.
    public static func render(envelope body: [UInt8], identifier: String, sender: String = "vigil") throws -> [UInt8] {
        let env = try VigilJSON.decode(JSONValue.self, from: body)
        let type = env["type"]?.stringValue ?? "unknown"
        let sent = env["timestamp"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) ?? Timestamp(millis: 0)
        let data = env["data"] ?? [:]
        let session = data["session"] ?? [:]
        let location = session["location"] ?? [:]
        let caller = session["caller"] ?? [:]
        let isCancel = type == EventType.dispatchCancelled.rawValue
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
        x += "  <status>Actual</status>\n"
        x += "  <msgType>\(isCancel ? "Cancel" : "Alert")</msgType>\n"
        x += "  <scope>Private</scope>\n"
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
        x += "    <description>\(esc(description))</description>\n"
        if let access = location["access_notes"]?.stringValue {
            x += "    <instruction>\(esc("Access: " + access))</instruction>\n"
        }
        if let id = session["id"]?.stringValue {
            x += "    <parameter><valueName>vigil_session</valueName><value>\(esc(id))</value></parameter>\n"
        }
        x += "    <area>\n"
        x += "      <areaDesc>\(esc(areaParts.joined(separator: ", ")))</areaDesc>\n"
        if let lat = number(location["latitude"]), let lon = number(location["longitude"]) {
            x += "      <circle>\(lat),\(lon) 0</circle>\n"
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

    /// CAP's dateTime: seconds, with an explicit offset.
    static func capTime(_ t: Timestamp) -> String {
        let s = t.rfc3339
        return String(s.prefix(19)) + "+00:00"
    }

    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(ch)
            }
        }
        return out
    }
}
