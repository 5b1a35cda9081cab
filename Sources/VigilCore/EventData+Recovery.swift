extension EventData {
    /// One session that lapsed while Vigil was away, as `system.recovered` names it (the alias only).
    public struct RecoveredLapse: Codable, Sendable, Equatable {
        public var sessionId: String
        public var alias: String?
        public var lapsedAt: Timestamp
        public init(_ lapse: OutageLapse) {
            sessionId = lapse.id.rawValue
            alias = lapse.alias
            lapsedAt = lapse.lapsedAt
        }
    }

    /// `system.recovered`: Vigil came back after `down_s` seconds away (a restart, the database back, the machine
    /// resuming); `lapsed_while_down` sessions fell due meanwhile, listed oldest first in `sessions`.
    public struct SystemRecovered: EventPayload, Equatable {
        public var eventType: EventType { .systemRecovered }
        public var downS: Int64
        public var lapsedWhileDown: Int
        public var sessions: [RecoveredLapse]
        /// What brought it back: `restart`, `store` or `resume`.
        public var cause: String
        public init(downS: Int64, lapsed: [OutageLapse], cause: String) {
            self.downS = downS
            lapsedWhileDown = lapsed.count
            sessions = lapsed.map(RecoveredLapse.init)
            self.cause = cause
        }
    }
}
