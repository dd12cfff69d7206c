import Dispatch
import Logging
import TernNet
import TernWire

/// Logs authorization denials — principal, host, operation, resource, why, and the API — at a
/// bounded rate, so a client retrying a denied request in a loop cannot flood the log nor crowd
/// out everyone else's denials:
///
/// - at most one line per second for one principal, operation and resource; the denials held
///   back are counted and the next line for that key says how many (`tern_suppressed`);
/// - under that, one bucket for the whole broker (a burst, then a rate), as
///   ``LogRateLimiter/peerWarnings``, whose dropped lines the next line that gets through adds
///   to `tern_suppressed`.
///
/// The per-key table is bounded (`maxKeys`): keys silent for a second are swept when it fills,
/// and while it is full of recent keys a new key has only the broker-wide bucket — the table
/// never grows with what clients send.
public final class AuthorizationDenialLogger: Sendable {
    private struct Key: Hashable {
        var principal: String
        var operation: AclOperation
        var resource: AuthorizedResource
    }

    private let logger: Logger
    private let limiter: LogRateLimiter
    private let perKey: KeyedLogLimiter<Key>

    /// - Parameters:
    ///   - burst: lines written at once, over all keys, before the broker-wide rate applies.
    ///   - perSecond: lines a second, over all keys, after the burst.
    ///   - perKeyIntervalNanoseconds: the least time between two lines of one principal,
    ///     operation and resource.
    ///   - maxKeys: keys remembered at once.
    public init(
        logger: Logger, burst: Int = 20, perSecond: Double = 2, perKeyIntervalNanoseconds: UInt64 = 1_000_000_000,
        maxKeys: Int = 1024
    ) {
        self.logger = logger
        limiter = LogRateLimiter(burst: burst, perSecond: perSecond)
        perKey = KeyedLogLimiter(intervalNanoseconds: perKeyIntervalNanoseconds, maxKeys: maxKeys)
    }

    /// Logs one denial at `warning` unless a rate limit holds it back; `now` is a
    /// `DispatchTime` uptime in nanoseconds (tests pass their own).
    /// - Returns: whether a line was written.
    @discardableResult
    public func denied(
        principal: String, host: String, operation: AclOperation, resource: AuthorizedResource,
        decision: AuthorizationDecision, api: ApiKey, now: UInt64 = DispatchTime.now().uptimeNanoseconds
    ) -> Bool {
        guard logger.logLevel <= .warning else { return false }
        let key = Key(principal: principal, operation: operation, resource: resource)
        guard let heldBack = perKey.admit(key, now: now)?.suppressed else { return false }
        guard let dropped = limiter.admit(now: now) else { return false }
        var metadata: Logger.Metadata = [
            "tern_principal": "\(principal)", "tern_host": "\(host)", "tern_operation": "\(operation)",
            "tern_resource": "\(resource)", "tern_api": "\(api)", "tern_reason": "\(decision)",
        ]
        if heldBack + dropped > 0 { metadata["tern_suppressed"] = "\(heldBack + dropped)" }
        logger.warning(
            "authorization denied: \(principal) from \(host) may not \(operation) \(resource) (\(api))",
            metadata: metadata)
        return true
    }
}
