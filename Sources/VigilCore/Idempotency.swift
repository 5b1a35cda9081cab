/// The first answer to a request made under an idempotency key, repeated for every retry of it.
public struct IdempotentResponse: Hashable, Sendable, Codable {
    /// The HTTP status.
    public var status: Int
    /// The `Content-Type` it was answered with.
    public var contentType: String
    /// The body, as sent.
    public var body: [UInt8]

    /// Creates a recorded answer.
    public init(status: Int, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// What the store knows of an idempotency key when a request claims it.
public enum IdempotencyClaim: Hashable, Sendable {
    /// Nobody held the key: this request runs, then records its answer (or gives the key back).
    case claimed
    /// The first request with this key is still being handled, here or on another instance.
    case inProgress
    /// The key was used for another request (another method, path or body).
    case mismatch
    /// The first request's answer, to repeat.
    case completed(IdempotentResponse)
}

/// One key as the store keeps it: `id` hashes the caller's identity with the key the caller chose, so neither
/// the token nor its name is kept in clear; `fingerprint` hashes the request (method, path, body).
public struct IdempotencyEntry: Hashable, Sendable {
    /// The row's key: a hex SHA-256 of the caller's scope and the key.
    public var id: String
    /// A hex SHA-256 of the request the key was first used for.
    public var fingerprint: String

    /// Creates an entry from its hashes.
    public init(id: String, fingerprint: String) {
        self.id = id
        self.fingerprint = fingerprint
    }

    /// The entry of `key` chosen by the caller known as `scope` (a token's name, `sms` for the text gateway), for
    /// a request whose hash is `fingerprint`.
    public static func of(scope: String, key: String, fingerprint: String) -> IdempotencyEntry {
        IdempotencyEntry(id: SHA256Digest.hex(scope + "\u{0}" + key), fingerprint: fingerprint)
    }
}

/// How long keys are kept and how long a claim may stay unanswered.
public enum IdempotencyTerms {
    /// A key is honoured for 24 hours after its first use, then forgotten (its recorded answer with it).
    public static let retention = Millis.seconds(86_400)
    /// A claim left unanswered this long (its instance died mid-request) may be taken again.
    public static let lease = Millis.seconds(30)
}

/// Idempotency keys in the store, shared by every instance: per caller, the first request's hash and its answer.
/// The answer is sealed at rest like a snapshot (it may carry personal data) and expires with the key.
public protocol IdempotencyStore: Sendable {
    /// Claims `entry` at `now` for `IdempotencyTerms.retention`: `.claimed` when it was free (never used, expired,
    /// or a claim older than `IdempotencyTerms.lease` left unanswered), otherwise what the first use left.
    func claimIdempotency(_ entry: IdempotencyEntry, at now: Timestamp) async throws -> IdempotencyClaim
    /// Records the answer of a claimed entry; later claims of the same request get it.
    func completeIdempotency(_ entry: IdempotencyEntry, response: IdempotentResponse) async throws
    /// Gives a claimed entry back unanswered (the request failed): the next try runs afresh.
    func releaseIdempotency(_ entry: IdempotencyEntry) async throws
    /// Deletes every key that expired at or before `now`, with its answer; returns how many.
    func purgeIdempotency(at now: Timestamp) async throws -> Int
}

extension IdempotencyClaim {
    /// What a claim finds in a stored row (`fingerprint`, whether answered, when claimed and when it expires),
    /// the same rule in every store; nil when the row is free for this claim.
    public static func existing(
        _ entry: IdempotencyEntry, fingerprint: String, response: IdempotentResponse?, claimedAt: Timestamp,
        expiresAt: Timestamp, now: Timestamp
    ) -> IdempotencyClaim? {
        if isFree(answered: response != nil, claimedAt: claimedAt, expiresAt: expiresAt, now: now) { return nil }
        if fingerprint != entry.fingerprint { return .mismatch }
        if let response { return .completed(response) }
        return .inProgress
    }

    /// Whether a stored key may be claimed again: it expired, or its claim was left unanswered past the lease.
    public static func isFree(answered: Bool, claimedAt: Timestamp, expiresAt: Timestamp, now: Timestamp) -> Bool {
        expiresAt <= now || (!answered && claimedAt + IdempotencyTerms.lease <= now)
    }
}

/// Fresh link tokens (a check-in link, a responder's link) by the hash of the token, kept for
/// `IdempotencyTerms.retention`: an instance that has not yet heard of a session started or changed on another finds
/// it here on the first tap.
public protocol LinkDirectory: Sendable {
    /// Records that the tokens hashed as `hashes` belong to the session `id`, from `now`.
    func recordLinks(_ hashes: [String], session id: SessionID, at now: Timestamp) async throws
    /// The session whose link token hashes to `hash`, if recorded.
    func session(linkHash hash: String) async throws -> SessionID?
}
