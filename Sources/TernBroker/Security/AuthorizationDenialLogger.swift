import Dispatch
import Logging
import Synchronization
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

    private struct Entry {
        var loggedAt: UInt64
        var suppressed: Int
    }

    private struct Table {
        var entries: [Key: Entry] = [:]
        var sweptAt: UInt64 = 0
    }

    private let logger: Logger
    private let limiter: LogRateLimiter
    private let keyInterval: UInt64
    private let maxKeys: Int
    private let table = Mutex(Table())

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
        keyInterval = perKeyIntervalNanoseconds
        self.maxKeys = max(maxKeys, 1)
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
        guard let heldBack = admit(key, now: now) else { return false }
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

    /// The key's denials held back since its last line, or nil when this one is held back too.
    private func admit(_ key: Key, now: UInt64) -> Int? {
        table.withLock { table in
            if let entry = table.entries[key] {
                guard now &- entry.loggedAt >= keyInterval || now < entry.loggedAt else {
                    table.entries[key]?.suppressed += 1
                    return nil
                }
                table.entries[key] = Entry(loggedAt: now, suppressed: 0)
                return entry.suppressed
            }
            if table.entries.count >= maxKeys, now &- table.sweptAt >= keyInterval {
                table.sweptAt = now
                let interval = keyInterval
                table.entries = table.entries.filter { now &- $0.value.loggedAt < interval }
            }
            // Full of recent keys: this one has only the broker-wide bucket.
            if table.entries.count < maxKeys { table.entries[key] = Entry(loggedAt: now, suppressed: 0) }
            return 0
        }
    }
}
