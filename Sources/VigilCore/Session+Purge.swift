extension Session {
    /// Empties every personal field (the caller, the location, notes, the substance, responders, the follow-up's
    /// note), keeping what the anonymous figures need (times, states, outcomes): what the retention purge leaves.
    public mutating func purgePersonalData() {
        caller = Caller()
        location = Location(address: "")
        notes = nil
        substance = nil
        responders = nil
        followUp?.note = nil
    }
}
