import Dispatch
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps `SIGHUP` from ending the watcher: its default action stops the process, and a `kill -HUP` from habit (the
/// signal that reloads nginx and Prometheus) or a terminal that closes must never leave sessions unwatched. Until
/// a configuration reload is built, the signal is logged and changes nothing.
enum HangupGuard {
    /// Ignores `SIGHUP` for the rest of the process and logs each one received while the returned source is kept.
    static func install(logger: Logger) -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        s.setEventHandler {
            logger.warning("SIGHUP received: the configuration is not reloaded (restart to apply a change); serving on")
        }
        s.activate()
        return s
    }
}
