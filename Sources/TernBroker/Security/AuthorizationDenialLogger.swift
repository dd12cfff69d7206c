import Dispatch
import Logging
import TernNet
import TernWire

/// Logs authorization denials — principal, host, operation, resource, why, and the API — at a
/// bounded rate: a client retrying a denied request in a loop must not flood the log, so lines
/// past the burst are counted and the next line that gets through says how many were dropped
/// (`tern_suppressed`). One bucket per broker, not per principal, for the same reason as
/// ``LogRateLimiter/peerWarnings``: a table per principal would grow with what clients send.
public final class AuthorizationDenialLogger: Sendable {
    private let logger: Logger
    private let limiter: LogRateLimiter

    /// - Parameters:
    ///   - burst: lines written at once before the rate applies.
    ///   - perSecond: lines a second after the burst.
    public init(logger: Logger, burst: Int = 20, perSecond: Double = 2) {
        self.logger = logger
        limiter = LogRateLimiter(burst: burst, perSecond: perSecond)
    }

    /// Logs one denial at `warning` unless the rate limit holds it back; `now` is a
    /// `DispatchTime` uptime in nanoseconds (tests pass their own).
    /// - Returns: whether a line was written.
    @discardableResult
    public func denied(
        principal: String, host: String, operation: AclOperation, resource: AuthorizedResource,
        decision: AuthorizationDecision, api: ApiKey, now: UInt64 = DispatchTime.now().uptimeNanoseconds
    ) -> Bool {
        guard logger.logLevel <= .warning, let suppressed = limiter.admit(now: now) else { return false }
        var metadata: Logger.Metadata = [
            "tern_principal": "\(principal)", "tern_host": "\(host)", "tern_operation": "\(operation)",
            "tern_resource": "\(resource)", "tern_api": "\(api)", "tern_reason": "\(decision)",
        ]
        if suppressed > 0 { metadata["tern_suppressed"] = "\(suppressed)" }
        logger.warning(
            "authorization denied: \(principal) from \(host) may not \(operation) \(resource) (\(api))",
            metadata: metadata)
        return true
    }
}
