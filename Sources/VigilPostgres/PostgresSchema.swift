/// Vigil's tables on PostgreSQL, as numbered migrations; each statement runs on its own (the extended query
/// protocol takes one statement at a time), all of one start inside one transaction.
///
/// What is stored in clear is what SQLite stores in clear, no more: ids, states, types, times and the outbox's
/// target names. Snapshots, event data and webhook bodies are sealed (`bytea`). Times are milliseconds since the
/// epoch (`bigint`), as in the snapshots; only leases use PostgreSQL's own clock (`timestamptz`).
enum PostgresSchema {
    /// Taken with `pg_advisory_xact_lock` while migrating: transaction-scoped, so it is released at commit or
    /// rollback, and by the server when the connection dies.
    static let migrationLockKey: Int64 = 0x5649_4749_4C_01  // "VIGIL" 1

    /// The channel of commit wake-ups.
    static let channel = "vigil_events"

    static let bootstrap = """
        CREATE TABLE IF NOT EXISTS schema_version (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """

    /// Migration n is `migrations[n - 1]`.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE sessions (
                id text PRIMARY KEY,
                version bigint NOT NULL,
                state text NOT NULL,
                started_at bigint NOT NULL,
                ended_at bigint,
                due_at bigint,
                purged boolean NOT NULL DEFAULT false,
                snapshot bytea NOT NULL,
                claim_owner text,
                claim_incarnation bigint,
                claim_until timestamptz
            )
            """,
            "CREATE INDEX sessions_due ON sessions (due_at) WHERE state <> 'ended'",
            "CREATE INDEX sessions_state ON sessions (state, started_at)",
            """
            CREATE TABLE event_seq (
                one boolean PRIMARY KEY DEFAULT true CHECK (one),
                last bigint NOT NULL
            )
            """,
            "INSERT INTO event_seq (one, last) VALUES (true, 0)",
            """
            CREATE TABLE events (
                seq bigint PRIMARY KEY,
                session_id text,
                type text NOT NULL,
                at bigint NOT NULL,
                data bytea NOT NULL
            )
            """,
            "CREATE INDEX events_session ON events (session_id, seq)",
            // Append-only: no delete, no truncate, and an update may only rewrite `data`, which the retention purge
            // replaces by a sealed `{"purged": true}` (as on SQLite).
            """
            CREATE FUNCTION vigil_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND NEW.seq = OLD.seq AND NEW.session_id IS NOT DISTINCT FROM OLD.session_id
                    AND NEW.type = OLD.type AND NEW.at = OLD.at THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION 'the event log is append-only' USING ERRCODE = 'restrict_violation';
            END
            $$
            """,
            """
            CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
                FOR EACH ROW EXECUTE FUNCTION vigil_events_append_only()
            """,
            """
            CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
                FOR EACH STATEMENT EXECUTE FUNCTION vigil_events_append_only()
            """,
            """
            CREATE TABLE outbox (
                id text PRIMARY KEY,
                session_id text NOT NULL,
                type text NOT NULL,
                targets text NOT NULL,
                webhook_ids text NOT NULL,
                body bytea NOT NULL,
                created_at bigint NOT NULL,
                is_dispatch boolean NOT NULL,
                status text NOT NULL,
                target_index bigint NOT NULL,
                attempts bigint NOT NULL,
                next_attempt_at bigint NOT NULL,
                owner text,
                incarnation bigint,
                lease_until timestamptz
            )
            """,
            "CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE status = 'pending'",
            "CREATE INDEX outbox_session ON outbox (session_id)",
            """
            CREATE TABLE encryption_key (
                one boolean PRIMARY KEY DEFAULT true CHECK (one),
                key_id text NOT NULL,
                check_value bytea NOT NULL,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """,
            """
            CREATE TABLE leases (
                name text PRIMARY KEY,
                owner text NOT NULL,
                incarnation bigint NOT NULL,
                epoch bigint NOT NULL,
                expires_at timestamptz NOT NULL
            )
            """,
        ],
        // 2: saved response plans, keyed by the hash of their name and sealed (as on SQLite).
        [
            """
            CREATE TABLE plans (
                name_hash text PRIMARY KEY,
                updated_at bigint NOT NULL,
                body bytea NOT NULL
            )
            """
        ],
        // 3: when the first attempt on a row's current target was claimed (a dispatch target's failover time).
        ["ALTER TABLE outbox ADD COLUMN target_since bigint"],
        // 4: rows that cannot be read, set aside (as on SQLite).
        [
            """
            CREATE TABLE quarantine (
                kind text NOT NULL,
                row_id text NOT NULL,
                session_id text NOT NULL,
                reason text NOT NULL,
                at bigint NOT NULL,
                PRIMARY KEY (kind, row_id)
            )
            """,
            "CREATE INDEX quarantine_session ON quarantine (session_id)",
        ],
        // 5: idempotency keys (the answer sealed) and fresh link tokens, each kept 24 h (as on SQLite).
        [
            """
            CREATE TABLE idempotency (
                id text PRIMARY KEY,
                fingerprint text NOT NULL,
                claimed_at bigint NOT NULL,
                expires_at bigint NOT NULL,
                response bytea
            )
            """,
            "CREATE INDEX idempotency_expiry ON idempotency (expires_at)",
            """
            CREATE TABLE links (
                hash text PRIMARY KEY,
                session_id text NOT NULL,
                expires_at bigint NOT NULL
            )
            """,
            "CREATE INDEX links_expiry ON links (expires_at)",
        ],
        // 6: what the cluster decides once: a duty's state beside its lease, and each instance's console heartbeat.
        [
            "ALTER TABLE leases ADD COLUMN state text",
            """
            CREATE TABLE console_presence (
                instance text PRIMARY KEY,
                consoles bigint NOT NULL,
                seen_at timestamptz NOT NULL
            )
            """,
        ],
        // 7: the event log chained (docs/contract.md, "A tamper-evident log"); see `PostgresStore+Audit.swift`.
        PostgresSchema.chain,
        // 8: the last moment any instance noted it was watching (how long an outage lasted).
        ["CREATE TABLE alive (one boolean PRIMARY KEY DEFAULT true CHECK (one), at bigint NOT NULL)"],
        // 9: a key rotation shared by every instance: the key being retired beside the current one, and the keys
        // each live instance holds and seals with.
        [
            "ALTER TABLE encryption_key ADD COLUMN previous_key_id text",
            "ALTER TABLE encryption_key ADD COLUMN previous_check_value bytea",
            """
            CREATE TABLE key_holders (
                instance text PRIMARY KEY,
                opens text NOT NULL,
                seals bigint NOT NULL,
                seen_at timestamptz NOT NULL
            )
            """,
        ],
    ]
}
