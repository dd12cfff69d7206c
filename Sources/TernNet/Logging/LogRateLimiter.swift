import Dispatch
import Logging
import Synchronization

/// A token bucket for log lines a peer can cause at will (malformed frames, refused
/// connections): up to `burst` lines at once, then `perSecond` lines a second; the lines it
/// suppresses are counted and reported, as `tern_suppressed`, on the next line it lets through.
///
/// One bucket for the whole process rather than one per peer: a per-peer table would grow with
/// every address a hostile client can use, and what matters is that the log's volume is bounded.
public final class LogRateLimiter: Sendable {
    private struct State {
        /// Tokens held, in nanoseconds of refill (one token is `interval`): integers, so that
        /// refills add up exactly.
        var credit: UInt64
        var refilledAt: UInt64
        var suppressed = 0
    }

    /// Nanoseconds to refill one token.
    private let interval: UInt64
    private let capacity: UInt64
    private let state: Mutex<State>

    /// The bucket shared by every warning about a misbehaving peer in this process.
    public static let peerWarnings = LogRateLimiter(burst: 10, perSecond: 1)

    /// - Parameters:
    ///   - burst: lines allowed at once (at least 1).
    ///   - perSecond: lines allowed per second after the burst.
    public init(burst: Int, perSecond: Double) {
        interval = perSecond > 0 ? UInt64(min(1e9 / perSecond, 1e15)) : UInt64.max / 4
        capacity = UInt64(max(burst, 1)) * min(interval, UInt64.max / 4 / UInt64(max(burst, 1)))
        state = Mutex(State(credit: capacity, refilledAt: DispatchTime.now().uptimeNanoseconds))
    }

    /// Whether a line may be written now: nil if not (it is counted as suppressed), otherwise
    /// how many lines were suppressed since the last one allowed.
    public func admit(now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int? {
        state.withLock { state in
            let elapsed = now > state.refilledAt ? now - state.refilledAt : 0
            state.credit = min(capacity, state.credit + min(elapsed, capacity))
            state.refilledAt = max(now, state.refilledAt)
            guard state.credit >= interval else {
                state.suppressed += 1
                return nil
            }
            state.credit -= interval
            defer { state.suppressed = 0 }
            return state.suppressed
        }
    }

    /// Logs a warning unless the bucket is empty; adds `tern_suppressed` when lines were dropped
    /// since the last one.
    public func warning(
        _ logger: Logger, _ message: @autoclosure () -> Logger.Message,
        metadata: @autoclosure () -> Logger.Metadata = [:]
    ) {
        log(logger, level: .warning, message(), metadata: metadata())
    }

    /// Logs at `level` unless the bucket is empty; adds `tern_suppressed` when lines were dropped
    /// since the last one.
    public func log(
        _ logger: Logger, level: Logger.Level, _ message: @autoclosure () -> Logger.Message,
        metadata: @autoclosure () -> Logger.Metadata = [:]
    ) {
        guard logger.logLevel <= level, let suppressed = admit() else { return }
        var metadata = metadata()
        if suppressed > 0 { metadata["tern_suppressed"] = "\(suppressed)" }
        logger.log(level: level, message(), metadata: metadata)
    }
}
