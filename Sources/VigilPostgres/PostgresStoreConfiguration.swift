import Foundation
import PostgresNIO
import VigilCore

/// How a `PostgresStore` reaches its database, and how long it waits for it.
public struct PostgresStoreConfiguration: Sendable {
    /// How the connection is protected.
    public enum TLSMode: Sendable, Hashable {
        /// Cleartext; only sensible on loopback or a unix socket.
        case disable
        /// TLS with the server's certificate checked against `caFile` and its name against the host (verify-full).
        case verifyFull(caFile: String)
    }

    /// The server's host name or address (ignored when `unixSocketPath` is set).
    public var host: String
    /// The server's TCP port.
    public var port: Int
    /// Every server to try, in order, when the URL names several: the one not in recovery is used. One entry
    /// (`host`, `port`) otherwise.
    public var endpoints: [PostgresEndpoint]
    /// A unix socket to connect through instead of TCP.
    public var unixSocketPath: String?
    /// The role to log in as.
    public var username: String
    /// The role's password (from `password_env` / `password_file`, never from the URL).
    public var password: String?
    /// The database's name.
    public var database: String
    /// Transport protection.
    public var tls: TLSMode
    /// The application-level deadline of every call: past it the call throws `unavailable` and its connection is
    /// closed, because behind a proxy a query may simply never answer.
    public var callTimeout: Duration
    /// The server-side `statement_timeout`; a little shorter than `callTimeout`, so the server gives up first.
    public var statementTimeout: Duration
    /// The server-side `idle_in_transaction_session_timeout`: how long a transaction whose client vanished may hold
    /// its locks (the event counter's row lock blocks every commit of the cluster meanwhile).
    public var idleInTransactionTimeout: Duration
    /// The server-side `tcp_user_timeout`: how long the server's socket waits for unacknowledged data.
    public var tcpUserTimeout: Duration
    /// How long opening a connection may take.
    public var connectTimeout: Duration
    /// The deadline of the start (migrations, waiting for another instance's migration, the key check).
    public var migrationTimeout: Duration
    /// The most connections the pool opens.
    public var maximumConnections: Int
    /// How often the listening connection proves it is alive with a `SELECT 1`.
    public var listenerHeartbeat: Duration
    /// Whether `run()` keeps a listening connection for `eventWakeups()`.
    public var listens: Bool

    /// A configuration with the defaults: 5 s per call, 4 s per statement, 5 s idle in a transaction.
    public init(
        host: String, port: Int = 5432, username: String, password: String?, database: String,
        tls: TLSMode = .disable, unixSocketPath: String? = nil
    ) {
        self.host = host
        self.port = port
        self.endpoints = [PostgresEndpoint(host: host, port: port)]
        self.unixSocketPath = unixSocketPath
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.callTimeout = .seconds(5)
        self.statementTimeout = .seconds(4)
        self.idleInTransactionTimeout = .seconds(5)
        self.tcpUserTimeout = .seconds(5)
        self.connectTimeout = .seconds(5)
        self.migrationTimeout = .seconds(60)
        self.maximumConnections = 10
        self.listenerHeartbeat = .seconds(2)
        self.listens = true
    }

    /// Parses `postgres://USER@HOST:PORT/DB` (or `postgresql://`), or several hosts
    /// (`postgres://USER@H1:PORT,H2:PORT/DB?target_session_attrs=read-write`): then the store uses whichever
    /// accepts writes, and finds the new one after a promotion. A password inside the URL is refused, since the
    /// configuration file must not hold secrets. Cleartext off loopback is refused: give `tls`.
    public init(url text: String, password: String?, tls: TLSMode = .disable) throws {
        let u = try PostgresURL.parse(text)
        guard let first = u.endpoints.first else {
            throw VigilError.invalid("storage.postgres must name the host: postgres://USER@HOST:PORT/DB")
        }
        if case .disable = tls, let off = u.endpoints.first(where: { !Self.isLoopback($0.host) }) {
            throw VigilError.invalid(
                "storage.postgres off loopback (\(off)) needs tls: {ca_file: …} (verify-full); cleartext is refused")
        }
        self.init(
            host: first.host, port: first.port, username: u.user, password: password, database: u.database, tls: tls)
        self.endpoints = u.endpoints
    }

    /// The same configuration, connecting to `endpoint`.
    func at(_ endpoint: PostgresEndpoint) -> PostgresStoreConfiguration {
        var c = self
        c.host = endpoint.host
        c.port = endpoint.port
        return c
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// Milliseconds, clamped to what PostgreSQL's settings accept (1 ms … 24 days).
    static func millis(_ d: Duration) -> Int64 {
        let c = d.components
        let ms = Millis.seconds(c.seconds).value.addingReportingOverflow(c.attoseconds / 1_000_000_000_000_000)
        return min(max(ms.overflow ? Int64.max : ms.partialValue, 1), Int64(Int32.max))
    }

    /// The server settings every connection starts with; `application_name` tells the listener apart in
    /// `pg_stat_activity`.
    func startupParameters(application: String) -> [(String, String)] {
        [
            ("statement_timeout", String(Self.millis(statementTimeout))),
            ("idle_in_transaction_session_timeout", String(Self.millis(idleInTransactionTimeout))),
            ("tcp_user_timeout", String(Self.millis(tcpUserTimeout))),
            ("application_name", application),
        ]
    }

    func nioTLS() throws -> NIOSSL.TLSConfiguration? {
        guard case .verifyFull(let caFile) = tls else { return nil }
        var t = NIOSSL.TLSConfiguration.makeClientConfiguration()
        t.certificateVerification = .fullVerification
        do {
            t.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        } catch {
            throw VigilError.invalid("storage.postgres tls.ca_file cannot be read as PEM certificates")
        }
        return t
    }

    func clientConfiguration() throws -> PostgresClient.Configuration {
        var c: PostgresClient.Configuration
        if let socket = unixSocketPath {
            c = .init(unixSocketPath: socket, username: username, password: password, database: database)
        } else if let tlsConfig = try nioTLS() {
            c = .init(
                host: host, port: port, username: username, password: password, database: database,
                tls: .require(tlsConfig))
        } else {
            c = .init(host: host, port: port, username: username, password: password, database: database, tls: .disable)
        }
        c.options.connectTimeout = connectTimeout
        c.options.additionalStartupParameters = startupParameters(application: "vigil")
        c.options.maximumConnections = max(1, min(maximumConnections, 1000))
        c.options.minimumConnections = 0
        c.options.keepAliveBehavior = .init(frequency: .seconds(30))
        return c
    }

    func connectionConfiguration(application: String) throws -> PostgresConnection.Configuration {
        var c: PostgresConnection.Configuration
        if let socket = unixSocketPath {
            c = .init(unixSocketPath: socket, username: username, password: password, database: database)
        } else if let tlsConfig = try nioTLS() {
            c = .init(
                host: host, port: port, username: username, password: password, database: database,
                tls: .require(try NIOSSLContext(configuration: tlsConfig)))
        } else {
            c = .init(host: host, port: port, username: username, password: password, database: database, tls: .disable)
        }
        c.options.connectTimeout = .milliseconds(Self.millis(connectTimeout))
        c.options.additionalStartupParameters = startupParameters(application: application)
        return c
    }
}
