/// Where a running Vigil notes, every few seconds, that it is watching: the next start (or the database's return)
/// reads how long nothing watched from it.
public protocol AliveMarks: Sendable {
    /// Notes that Vigil was watching at `at` (a later mark from another instance is kept).
    func markAlive(at: Timestamp) async throws
    /// The latest moment any instance noted, or nil before the first.
    func lastAlive() async throws -> Timestamp?
}
