import Dispatch
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `SIGHUP` reloads the configuration, as it does for nginx, Prometheus and Alertmanager; it never ends the watcher
/// (its default action stops the process, and a `kill -HUP` from habit or a terminal that closes must never leave
/// sessions unwatched). Until the service has registered its reload, the signal is logged and changes nothing.
enum HangupGuard {
    private static let handler = Mutex<(@Sendable () -> Void)?>(nil)

    /// Ignores `SIGHUP`'s default action for the rest of the process, and runs the registered reload (or logs) on
    /// each one received while the returned source is kept.
    static func install(logger: Logger) -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        s.setEventHandler {
            if let reload = handler.withLock({ $0 }) {
                logger.notice("SIGHUP received: reading the configuration file again")
                reload()
            } else {
                logger.warning("SIGHUP received while the service is starting or stopping: nothing reloaded")
            }
        }
        s.activate()
        return s
    }

    /// What each `SIGHUP` does from now on (nil: only log it).
    static func onHangup(_ reload: (@Sendable () -> Void)?) { handler.withLock { $0 = reload } }
}
