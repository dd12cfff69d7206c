/// A partition log's leader-epoch history: for every leader epoch that wrote to the log, the
/// offset of its first record (Kafka's leader-epoch checkpoint, `epoch → start offset`). Pure and
/// in memory; the broker feeds it from the on-disk checkpoint and keeps the two in step.
///
/// It answers the one question replication asks of it (``endOffset(for:logEnd:)``): where does
/// epoch E end in this log? A follower whose last fetched epoch ends earlier on the leader than
/// its own log does holds a divergent suffix and truncates it before appending.
public struct LeaderEpochHistory: Hashable, Sendable {
    /// One epoch and the offset of its first record.
    public struct Entry: Hashable, Sendable, CustomStringConvertible {
        public var epoch: Int32
        public var startOffset: Int64

        public init(epoch: Int32, startOffset: Int64) {
            self.epoch = epoch
            self.startOffset = startOffset
        }

        public var description: String { "\(epoch)@\(startOffset)" }
    }

    /// Epochs strictly increasing, start offsets non-decreasing (an epoch that wrote nothing
    /// shares its start with the next one until it is pruned).
    public private(set) var entries: [Entry] = []

    /// An empty history (an empty log).
    public init() {}

    /// A history from checkpointed entries; entries that break the ordering are dropped, as a
    /// checkpoint that was cut short or corrupted must not make the lookup lie.
    public init(entries: [Entry]) {
        for e in entries { assign(epoch: e.epoch, startOffset: e.startOffset) }
    }

    /// The newest epoch, or -1 for an empty history.
    public var latestEpoch: Int32 { entries.last?.epoch ?? -1 }

    /// Records that epoch `epoch` starts at `startOffset`. An epoch not above the latest one is
    /// ignored (a leader or follower appending more of an epoch it already has). Returns whether
    /// the history changed.
    @discardableResult
    public mutating func assign(epoch: Int32, startOffset: Int64) -> Bool {
        guard epoch >= 0, epoch > latestEpoch else { return false }
        if let last = entries.last, startOffset < last.startOffset { return false }
        entries.append(Entry(epoch: epoch, startOffset: startOffset))
        return true
    }

    /// Forgets every epoch that starts at or after `offset`: the log was truncated there.
    public mutating func truncate(fromOffset offset: Int64) {
        while let last = entries.last, last.startOffset >= offset { entries.removeLast() }
    }

    /// The end of `epoch` in a log ending at `logEnd`, as the leader answers a follower's last
    /// fetched epoch (Kafka's `endOffsetFor`): the largest epoch not above `epoch` held here and
    /// the start offset of the epoch after it (or `logEnd` when it is the latest).
    ///
    /// - Returns: `(epoch, endOffset)`; when every epoch held here is newer than `epoch`,
    ///   `(-1, start of the oldest epoch)` — the asker shares nothing after that offset with
    ///   this log. For an empty history `(-1, logEnd)`.
    public func endOffset(for epoch: Int32, logEnd: Int64) -> (epoch: Int32, endOffset: Int64) {
        guard let first = entries.first else { return (-1, logEnd) }
        guard epoch >= first.epoch else { return (-1, first.startOffset) }
        // Binary search for the last entry with entry.epoch <= epoch.
        var lo = 0
        var hi = entries.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if entries[mid].epoch <= epoch { lo = mid } else { hi = mid - 1 }
        }
        let end = lo + 1 < entries.count ? entries[lo + 1].startOffset : logEnd
        return (entries[lo].epoch, end)
    }

    /// The epoch of the record at `offset`, or -1 when the history does not cover it.
    public func epoch(at offset: Int64) -> Int32 {
        entries.last { $0.startOffset <= offset }?.epoch ?? -1
    }
}
