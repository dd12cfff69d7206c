import Synchronization

/// Rate-limits log lines per key — one principal's denials of one resource, one partition's
/// failing writes: the first occurrence of a key is logged, then at most one line per `interval`
/// for it; the occurrences held back meanwhile are counted and the next line says how many. A
/// key can also be ended (the condition cleared), which says how long it lasted and how often it
/// occurred, for a "recovered" line.
///
/// The table is bounded (`maxKeys`): keys silent for an interval are swept when it fills, and
/// while it is full of recent keys a new key is not remembered (each of its occurrences is
/// admitted as a first one; callers that take keys from clients put a shared
/// ``LogRateLimiter`` behind it). It never grows with what peers send. I/O-free: the caller
/// passes the time (`DispatchTime` uptime nanoseconds in production, anything in tests).
public final class KeyedLogLimiter<Key: Hashable & Sendable>: Sendable {
    /// An occurrence that may be logged.
    public struct Admitted: Hashable, Sendable {
        /// No line of the key is remembered: this starts it.
        public var first: Bool
        /// Occurrences held back since the key's last line.
        public var suppressed: Int
        /// Occurrences since the key started, this one included.
        public var occurrences: Int
        /// When the key started.
        public var since: UInt64
    }

    /// A key that ended (``end(_:now:)``).
    public struct Ended: Hashable, Sendable {
        /// Occurrences held back since the key's last line.
        public var suppressed: Int
        /// Occurrences since the key started.
        public var occurrences: Int
        /// Nanoseconds from the key's first occurrence to its end.
        public var lasted: UInt64
    }

    private struct Entry {
        var loggedAt: UInt64
        var since: UInt64
        var suppressed = 0
        var occurrences = 1
    }

    private struct Table {
        var entries: [Key: Entry] = [:]
        var sweptAt: UInt64 = 0
    }

    private let interval: UInt64
    private let maxKeys: Int
    private let table = Mutex(Table())

    /// - Parameters:
    ///   - intervalNanoseconds: the least time between two lines of one key.
    ///   - maxKeys: keys remembered at once (at least 1).
    public init(intervalNanoseconds: UInt64, maxKeys: Int = 1024) {
        interval = intervalNanoseconds
        self.maxKeys = max(maxKeys, 1)
    }

    /// Counts one occurrence of `key` at `now`: nil when it is held back (the key logged less
    /// than an interval ago), otherwise what the line should say.
    public func admit(_ key: Key, now: UInt64) -> Admitted? {
        table.withLock { table in
            if var entry = table.entries[key] {
                entry.occurrences += 1
                // A clock that went back (a caller's stale `now`) lets the line through rather
                // than silencing the key for a long time.
                guard now &- entry.loggedAt >= interval || now < entry.loggedAt else {
                    entry.suppressed += 1
                    table.entries[key] = entry
                    return nil
                }
                table.entries[key] = Entry(loggedAt: now, since: entry.since, occurrences: entry.occurrences)
                return Admitted(
                    first: false, suppressed: entry.suppressed, occurrences: entry.occurrences, since: entry.since)
            }
            if table.entries.count >= maxKeys, now &- table.sweptAt >= interval {
                table.sweptAt = now
                let interval = interval
                table.entries = table.entries.filter { now &- $0.value.loggedAt < interval }
            }
            // Full of recent keys: this one is not remembered.
            if table.entries.count < maxKeys { table.entries[key] = Entry(loggedAt: now, since: now) }
            return Admitted(first: true, suppressed: 0, occurrences: 1, since: now)
        }
    }

    /// Forgets `key` (its condition cleared): nil when it was not remembered, otherwise its
    /// count and duration, so the caller can say it recovered. Its next occurrence is a first
    /// one again.
    public func end(_ key: Key, now: UInt64) -> Ended? {
        table.withLock { table in
            guard let entry = table.entries.removeValue(forKey: key) else { return nil }
            return Ended(
                suppressed: entry.suppressed, occurrences: entry.occurrences,
                lasted: now > entry.since ? now - entry.since : 0)
        }
    }
}
