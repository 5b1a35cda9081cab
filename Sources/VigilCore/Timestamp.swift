/// An instant in UTC, in whole milliseconds since the Unix epoch.
///
/// Milliseconds are the contract's resolution; integer arithmetic keeps every comparison exact.
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var millis: Int64

    /// Creates an instant from milliseconds since the epoch.
    public init(millis: Int64) { self.millis = millis }

    /// Creates an instant from whole seconds since the epoch (saturating at the representable range).
    public init(seconds: Int64) { self.millis = Millis.saturating(seconds, times: 1000) }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.millis < b.millis }

    /// This instant moved by a duration.
    public static func + (a: Timestamp, d: Millis) -> Timestamp { Timestamp(millis: Millis.sum(a.millis, d.value)) }

    /// This instant moved back by a duration.
    public static func - (a: Timestamp, d: Millis) -> Timestamp {
        Timestamp(millis: Millis.difference(a.millis, d.value))
    }

    /// The duration from `b` to `a`.
    public static func - (a: Timestamp, b: Timestamp) -> Millis { Millis(Millis.difference(a.millis, b.millis)) }

    /// Whole seconds since the epoch (floor).
    public var unixSeconds: Int64 {
        // Floor division without `millis - 999`, which overflows at the saturated bottom of the range.
        let q = millis / 1000
        return millis % 1000 < 0 ? q - 1 : q
    }

    public var description: String { rfc3339 }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-22T10:53:04.120Z`.
    public var rfc3339: String {
        let secs = unixSeconds
        let r = millis % 1000
        let ms = Int(r < 0 ? r + 1000 : r)
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let rem = Int(secs - days * 86400)
        let (y, m, d) = Timestamp.civil(fromDays: days)
        func pad(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
        }
        return "\(pad(Int(y), 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rem / 3600, 2)):\(pad(rem % 3600 / 60, 2)):"
            + "\(pad(rem % 60, 2)).\(pad(ms, 3))Z"
    }

    /// Parses RFC 3339 (`Z` or a numeric offset, optional fraction); nil when malformed.
    public init?(rfc3339 text: String) {
        let c = Array(text.utf8)
        guard c.count >= 20 else { return nil }
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= c.count else { return nil }
            var v = 0
            for i in from..<(from + len) {
                guard c[i] >= 48, c[i] <= 57 else { return nil }
                v = v * 10 + Int(c[i] - 48)
            }
            return v
        }
        guard let y = num(0, 4), c[4] == 45, let mo = num(5, 2), c[7] == 45, let d = num(8, 2),
            c[10] == 84 || c[10] == 116 || c[10] == 32, let h = num(11, 2), c[13] == 58, let mi = num(14, 2),
            c[16] == 58, let s = num(17, 2), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var ms = 0
        if i < c.count, c[i] == 46 {
            i += 1
            var digits = 0
            while i < c.count, c[i] >= 48, c[i] <= 57 {
                if digits < 3 { ms = ms * 10 + Int(c[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            // (A range `digits..<3` with more than three digits would trap: found by the fuzzer.)
            if digits < 3 { for _ in digits..<3 { ms *= 10 } }
        }
        guard i < c.count else { return nil }
        var offset = 0
        if c[i] == 90 || c[i] == 122 {
            i += 1
        } else if c[i] == 43 || c[i] == 45 {
            guard let oh = num(i + 1, 2), c.count > i + 3, c[i + 3] == 58, let om = num(i + 4, 2) else { return nil }
            offset = (oh * 60 + om) * 60 * (c[i] == 43 ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == c.count else { return nil }
        let days = Timestamp.days(fromCivil: Int64(y), mo, d)
        let secs = days * 86400 + Int64(h * 3600 + mi * 60 + s) - Int64(offset)
        self.millis = secs * 1000 + Int64(ms)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let t = Timestamp(rfc3339: s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an RFC 3339 timestamp")
        }
        self = t
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rfc3339)
    }

    // Howard Hinnant's civil-from-days and days-from-civil algorithms (proleptic Gregorian).
    static func civil(fromDays z0: Int64) -> (Int64, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (m <= 2 ? y + 1 : y, m, d)
    }

    static func days(fromCivil y0: Int64, _ m: Int, _ d: Int) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mm = Int64(m)
        let doy = (153 * (mm > 2 ? mm - 3 : mm + 9) + 2) / 5 + Int64(d) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// A length of time in whole milliseconds.
public struct Millis: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The number of milliseconds.
    public var value: Int64

    /// Creates a duration of `value` milliseconds.
    public init(_ value: Int64) { self.value = value }

    /// A duration of whole seconds (saturating: no input can make it trap).
    public static func seconds(_ s: Int64) -> Millis { Millis(saturating(s, times: 1000)) }

    /// The longest duration any setting may mean: a hundred years. Decimal inputs saturate here, so that adding
    /// two of them to an instant can never overflow.
    public static let longest = Millis(100 * 366 * 86_400_000)

    /// A duration from decimal seconds, rounded to the millisecond; NaN is zero, and anything past ±`longest`
    /// (infinity, `1e300`) saturates there instead of trapping.
    public static func seconds(decimal s: Double) -> Millis {
        let ms = (s * 1000).rounded()
        guard !ms.isNaN else { return .zero }
        let bound = Double(longest.value)
        return Millis(Int64(min(max(ms, -bound), bound)))
    }

    /// `a * b`, clamped to Int64's range.
    static func saturating(_ a: Int64, times b: Int64) -> Int64 {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? ((a < 0) != (b < 0) ? .min : .max) : r
    }

    /// `a + b`, clamped to Int64's range.
    static func sum(_ a: Int64, _ b: Int64) -> Int64 {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? (b < 0 ? .min : .max) : r
    }

    /// `a - b`, clamped to Int64's range.
    static func difference(_ a: Int64, _ b: Int64) -> Int64 {
        let (r, o) = a.subtractingReportingOverflow(b)
        return o ? (b > 0 ? .min : .max) : r
    }

    /// The zero duration.
    public static let zero = Millis(0)

    public static func < (a: Millis, b: Millis) -> Bool { a.value < b.value }
    public static func + (a: Millis, b: Millis) -> Millis { Millis(sum(a.value, b.value)) }
    public static func - (a: Millis, b: Millis) -> Millis { Millis(difference(a.value, b.value)) }

    /// Whole seconds, rounded down.
    public var wholeSeconds: Int64 { value / 1000 }

    public var description: String { "\(value)ms" }

    public init(from decoder: any Decoder) throws { value = try decoder.singleValueContainer().decode(Int64.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}
