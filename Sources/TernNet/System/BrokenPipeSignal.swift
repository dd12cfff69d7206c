#if canImport(Glibc)
import Glibc
#endif

/// Keeps a write to a closed socket from killing the process with `SIGPIPE`.
///
/// `writev` takes no `MSG_NOSIGNAL` and `sendfile` cannot either, so TernNet ignores `SIGPIPE`
/// process-wide, once, the first time a ``Server`` is created or a ``ClientConnection`` connects.
/// A broken pipe then surfaces as `EPIPE` from the write, which closes that connection only.
enum BrokenPipeSignal {
    private static let ignored: Bool = {
        _ = signal(SIGPIPE, SIG_IGN)
        return true
    }()

    /// Ignores `SIGPIPE`; cheap after the first call (a lazy global is initialised exactly once).
    static func ignore() {
        _ = ignored
    }
}
