import VigilCore

/// How a target wants its notifications.
public enum PayloadFormat: String, Sendable, Hashable, CaseIterable {
    /// The Standard Webhooks JSON envelope.
    case json
    /// OASIS CAP 1.2 XML.
    case cap
    /// NENA EIDO (NENA-STA-021.1) JSON.
    case eido
    /// A Twilio Messages API request: a text, form-encoded, Basic auth, not signed.
    case twilio

    /// The `Content-Type` of its bodies.
    public var contentType: String {
        switch self {
        case .cap: return "application/cap+xml"
        case .twilio: return "application/x-www-form-urlencoded"
        case .json, .eido: return "application/json"
        }
    }
}

/// Retry settings of one target.
public struct RetrySettings: Sendable, Hashable {
    /// Attempts on this target before it counts as failed.
    public var maxAttempts: Int
    /// The first backoff; it doubles each attempt.
    public var initialBackoff: Millis
    /// The cap on any backoff, `Retry-After` included.
    public var maxBackoff: Millis

    /// Creates settings; the defaults are those of docs/contract.md.
    public init(maxAttempts: Int = 5, initialBackoff: Millis = .seconds(1), maxBackoff: Millis = .seconds(30)) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }
}

/// A configured webhook receiver.
public struct Target: Sendable {
    /// Its name in configuration.
    public var name: TargetName
    /// Where to POST.
    public var url: String
    /// The body's format.
    public var format: PayloadFormat
    /// Signs every attempt.
    public var signer: WebhookSigner
    /// Whole-attempt timeout.
    public var timeout: Millis
    /// Retry settings.
    public var retry: RetrySettings
    /// TLS material.
    public var tls: TLSFiles?
    /// An explicit proxy; without one, no proxy is used, whatever the environment says.
    public var proxy: String?
    /// What its webhooks carry of the session; nil: the defaults by message type.
    public var fields: Set<SessionField>?
    /// The most time this target may take with a dispatch, retries included, from its first attempt, before the
    /// next target of the failover list gets it.
    public var failoverAfter: Millis
    /// The account of a `format: twilio` target.
    public var twilio: TwilioAccount?

    /// Creates a target.
    public init(
        name: TargetName, url: String, format: PayloadFormat, signer: WebhookSigner, timeout: Millis = .seconds(10),
        retry: RetrySettings = RetrySettings(), tls: TLSFiles? = nil, proxy: String? = nil,
        fields: Set<SessionField>? = nil, failoverAfter: Millis = .seconds(30)
    ) {
        self.failoverAfter = failoverAfter
        self.proxy = proxy
        self.fields = fields
        self.name = name
        self.url = url
        self.format = format
        self.signer = signer
        self.timeout = timeout
        self.retry = retry
        self.tls = tls
    }
}

/// Reads the host of a target URL.
public enum TargetURL {
    /// Whether `url`'s host is on the loopback interface (127.0.0.0/8, `localhost`, `[::1]`).
    public static func isLoopback(_ url: String) -> Bool {
        guard let scheme = url.range(of: "://") else { return false }
        var rest = url[scheme.upperBound...]
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        let host: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return false }
            host = rest[rest.index(after: rest.startIndex)..<close]
        } else {
            host = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        }
        let h = host.lowercased()
        if h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
        let octets = h.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { o in o.utf8.count <= 3 && UInt8(o) != nil }
    }
}

/// What to do after one attempt: decided from the answer alone, so it is tested as a table.
public enum AttemptVerdict: Hashable, Sendable {
    /// The target accepted.
    case delivered(status: Int)
    /// Try the same target again after a delay.
    case retry(after: Millis, reason: String)
    /// This target has failed; move on.
    case giveUp(reason: String)
}

/// Classifies answers and computes backoff.
public enum RetryPlanner {
    /// The verdict for `result` after attempt number `attempt` (1-based); `jitter` in 0...1 spreads the backoff.
    /// `now` reads a `Retry-After` given as an HTTP-date.
    public static func verdict(
        _ result: HTTPResult, attempt: Int, settings: RetrySettings, jitter: Double, now: Timestamp? = nil
    ) -> AttemptVerdict {
        let reason: String
        var retryable: Bool
        var retryAfter: Millis?
        switch result.status {
        case 200..<300:
            return .delivered(status: result.status)
        case 0:
            reason = result.timedOut ? "timed out" : "network error: \(result.error ?? "unknown")"
            retryable = true
        case 408, 429, 500..<600:
            reason = "HTTP \(result.status)"
            retryable = true
            retryAfter = result.headers["retry-after"].flatMap { parseRetryAfter($0, now: now) }
        default:
            reason = "HTTP \(result.status) (not retried)"
            retryable = false
        }
        if !retryable { return .giveUp(reason: reason) }
        if attempt >= settings.maxAttempts { return .giveUp(reason: "\(reason) after \(attempt) attempts") }
        return .retry(
            after: backoff(attempt: attempt, settings: settings, retryAfter: retryAfter, jitter: jitter), reason: reason
        )
    }

    /// Capped exponential backoff with jitter (between 75% and 100% of the doubled delay); `Retry-After` wins
    /// when given, capped at `maxBackoff`.
    public static func backoff(attempt: Int, settings: RetrySettings, retryAfter: Millis?, jitter: Double) -> Millis {
        if let retryAfter { return min(retryAfter, settings.maxBackoff) }
        let exponent = min(max(attempt - 1, 0), 30)
        let raw = Double(settings.initialBackoff.value) * Double(1 << exponent)
        let capped = min(raw, Double(settings.maxBackoff.value))
        let j = min(max(jitter, 0), 1)
        return Millis(Int64(capped * (0.75 + 0.25 * j)))
    }

    /// `Retry-After` as a receiver sent it (see `RetryAfter.parse`).
    public static func parseRetryAfter(_ v: String, now: Timestamp?) -> Millis? { RetryAfter.parse(v, now: now) }
}
