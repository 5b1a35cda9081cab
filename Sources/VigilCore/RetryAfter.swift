import Foundation

/// The `Retry-After` header a webhook receiver sends back: hostile input, parsed without any conversion that can trap.
public enum RetryAfter {
    /// `Retry-After` as a receiver sent it, which is hostile input: delta-seconds (digits only; any number of them
    /// saturates instead of trapping) or an IMF-fixdate HTTP-date, read against `now`. Anything else (`-7`,
    /// `1e300`, garbage) is treated as absent, so the target's own backoff applies. The caller caps the result.
    public static func parse(_ v: String, now: Timestamp?) -> Millis? {
        let t = v.trimmingCharacters(in: .whitespacesAndNewlines)
        if !t.isEmpty, t.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            guard t.utf8.count <= 12, let s = Int64(t) else { return .longest }
            return min(.seconds(s), .longest)
        }
        guard let now, let date = httpDate(t) else { return nil }
        return date > now ? min(date - now, .longest) : .zero
    }

    /// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); nil for anything else.
    public static func httpDate(_ text: String) -> Timestamp? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
            parts[1].utf8.count <= 2, let day = Int(parts[1]), (1...31).contains(day),
            let monthIndex = months.firstIndex(of: String(parts[2])),
            parts[3].utf8.count == 4, let year = Int(parts[3]), year >= 1970
        else { return nil }
        let hms = parts[4].split(separator: ":")
        guard hms.count == 3, hms.allSatisfy({ $0.utf8.count == 2 }), let h = Int(hms[0]), let m = Int(hms[1]),
            let s = Int(hms[2]), h < 24, m < 60, s < 61
        else { return nil }
        let month = monthIndex + 1
        let stamp =
            String(year) + "-" + pad2(month) + "-" + pad2(day) + "T" + pad2(h) + ":" + pad2(m) + ":"
            + pad2(s) + "Z"
        return Timestamp(rfc3339: stamp)
    }

    private static func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}
