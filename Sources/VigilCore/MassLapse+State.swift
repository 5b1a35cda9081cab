extension MassLapseDetector {
    /// What a detector remembers, to be stored and taken up again by another process (the cluster's count
    /// survives a restart and a change of the instance that counts).
    public struct State: Codable, Hashable, Sendable {
        /// One counted lapse.
        public struct Lapse: Codable, Hashable, Sendable {
            /// The session.
            public var session: SessionID
            /// Its lapse time.
            public var at: Timestamp
        }
        /// The lapses still inside the windows that matter.
        public var lapses: [Lapse]
        /// The newest lapse of the running episode, if one runs.
        public var episodeLast: Timestamp?
        /// Lapses counted in the running episode.
        public var episodeCount: Int

        enum CodingKeys: String, CodingKey {
            case lapses
            case episodeLast = "episode_last"
            case episodeCount = "episode_count"
        }
    }

    /// The detector's memory.
    public var state: State {
        State(
            lapses: lapses.map { State.Lapse(session: $0.id, at: $0.at) }, episodeLast: episodeLast,
            episodeCount: episodeCount)
    }

    /// A detector that takes up where `state` left off.
    public init(_ settings: MassLapseSettings, state: State) {
        self.init(settings)
        lapses = state.lapses.map { (id: $0.session, at: $0.at) }
        episodeLast = state.episodeLast
        episodeCount = max(0, state.episodeCount)
    }
}
