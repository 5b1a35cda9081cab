import Testing
import VigilCore

@testable import VigilPostgres

/// Several hosts in the storage URL, read as libpq reads them.
extension PostgresStoreTests {
    @Test(
        "several hosts in the storage URL are read in order, each with its port or 5432",
        arguments: [
            (
                "postgres://vigil@127.0.0.1:5432,127.0.0.2:5433/vigil?target_session_attrs=read-write",
                ["127.0.0.1:5432", "127.0.0.2:5433"]
            ),
            ("postgres://vigil@localhost,[::1]:6000/vigil", ["localhost:5432", "[::1]:6000"]),
            ("postgresql://vigil@127.0.0.1/vigil?target_session_attrs=primary", ["127.0.0.1:5432"]),
        ])
    func severalHosts(_ url: String, _ hosts: [String]) throws {
        let c = try PostgresStoreConfiguration(url: url, password: "p")
        #expect(c.endpoints.map(\.description) == hosts)
        #expect(c.database == "vigil" && c.username == "vigil")
    }

    @Test(
        "a host list with one host off loopback in clear, an empty host, a bad port or another option is refused",
        arguments: [
            "postgres://vigil@127.0.0.1,db.example.org/vigil", "postgres://vigil@127.0.0.1,/vigil",
            "postgres://vigil@127.0.0.1:5432,127.0.0.1:70000/vigil",
            "postgres://vigil@127.0.0.1,127.0.0.2/vigil?target_session_attrs=any",
            "postgres://vigil@127.0.0.1,127.0.0.2/vigil?target_session_attrs=read-write&sslmode=disable",
            "postgres://vigil:pw@127.0.0.1,127.0.0.2/vigil", "postgres://vigil@127.0.0.1 ,127.0.0.2/vigil",
        ])
    func badHostLists(_ url: String) {
        #expect(throws: VigilError.self) { _ = try PostgresStoreConfiguration(url: url, password: "p") }
    }
}
