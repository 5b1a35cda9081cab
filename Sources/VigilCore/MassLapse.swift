/// `mass_lapse:`: when more than `sessions` sessions lapse within `within`, Vigil is probably what failed (the
/// phone or SMS provider is down, the console lost its network), not dozens of people at once.
public struct MassLapseSettings: Hashable, Sendable {
    /// More lapses than this within the window is a mass lapse; 0 turns detection off.
    public var sessions: Int
    /// The window.
    public var within: Millis

    /// Creates settings (the defaults: 10 sessions within 60 s).
    public init(sessions: Int = 10, within: Millis = .seconds(60)) {
        self.sessions = sessions
        self.within = within
    }
}

/// What one lapse meant.
public struct MassLapseVerdict: Hashable, Sendable {
    /// This lapse started an episode: raise the alarm once.
    public var newEpisode: Bool
    /// Lapses counted in the episode so far.
    public var count: Int
    /// Sessions caught by this lapse (this one, and at an episode's start every session of the window).
    public var caught: [SessionID]
}

/// Counts lapses by their lapse time (due time plus grace, not when Vigil noticed them, so a restart after downtime
/// is judged fairly) and finds episodes: more than `sessions` lapses within `within`. An episode lasts until `within`
/// passes with no new lapse; lapses during it are caught too, and its alarm is raised once.
public struct MassLapseDetector: Sendable {
    /// The settings.
    public let settings: MassLapseSettings
    var lapses: [(id: SessionID, at: Timestamp)] = []
    var episodeLast: Timestamp?
    var episodeCount = 0

    /// Creates a detector.
    public init(_ settings: MassLapseSettings) { self.settings = settings }

    /// Whether an episode is running at lapse time `t`.
    public func inEpisode(at t: Timestamp) -> Bool {
        guard let last = episodeLast else { return false }
        return t <= last + settings.within
    }

    /// Records the lapse of `id` at `t` (its due time plus grace).
    public mutating func record(_ id: SessionID, at t: Timestamp) -> MassLapseVerdict {
        guard settings.sessions > 0 else { return MassLapseVerdict(newEpisode: false, count: 0, caught: []) }
        if lapses.contains(where: { $0.id == id && $0.at == t }) {
            return MassLapseVerdict(newEpisode: false, count: episodeCount, caught: [])
        }
        lapses.append((id, t))
        let newest = lapses.map { $0.at }.max() ?? t
        lapses.removeAll { $0.at < newest - settings.within - settings.within }
        if let last = episodeLast, t <= last + settings.within, t >= last - settings.within {
            episodeLast = max(last, t)
            episodeCount += 1
            return MassLapseVerdict(newEpisode: false, count: episodeCount, caught: [id])
        }
        episodeLast = nil
        let window = lapses.filter { $0.at <= t && $0.at >= t - settings.within }
        guard window.count > settings.sessions else {
            return MassLapseVerdict(newEpisode: false, count: 0, caught: [])
        }
        episodeLast = t
        episodeCount = window.count
        return MassLapseVerdict(newEpisode: true, count: window.count, caught: window.map { $0.id })
    }
}
