import TernRaft

/// When a voter should snapshot its state machine (Kafka's rule): once
/// `metadata.log.max.record.bytes.between.snapshots` bytes of entries were applied since the
/// last snapshot, or `metadata.log.max.snapshot.interval.ms` passed since it with at least one
/// entry applied. Pure: the driver feeds it applied entries and the time.
public struct QuorumSnapshotPolicy: Sendable, Equatable {
    /// Bytes of applied entries that make a snapshot due.
    public var maxRecordBytes: Int64
    /// Milliseconds after which any applied entry makes a snapshot due; 0: no time trigger.
    public var intervalMs: Int64
    /// Bytes (payload plus the 12 bytes an entry costs on the wire) applied since the last snapshot.
    public private(set) var bytesSinceSnapshot: Int64 = 0
    public private(set) var entriesSinceSnapshot = 0
    /// When the last snapshot was taken or installed (or the policy started).
    public private(set) var lastSnapshotAt: Tick

    public init(maxRecordBytes: Int64, intervalMs: Int64, now: Tick) {
        self.maxRecordBytes = maxRecordBytes
        self.intervalMs = intervalMs
        self.lastSnapshotAt = now
    }

    /// Committed entries were applied.
    public mutating func applied(_ entries: [RaftEntry]) {
        for entry in entries { bytesSinceSnapshot += Int64(entry.data.count + RaftWireLimits.entryOverhead) }
        entriesSinceSnapshot += entries.count
    }

    /// A snapshot was taken (or installed) at `now`: counting starts again.
    public mutating func snapshotted(now: Tick) {
        bytesSinceSnapshot = 0
        entriesSinceSnapshot = 0
        lastSnapshotAt = now
    }

    /// Whether the host should take a snapshot now.
    public func isDue(now: Tick) -> Bool {
        guard entriesSinceSnapshot > 0 else { return false }
        if bytesSinceSnapshot >= maxRecordBytes { return true }
        return intervalMs > 0 && now - lastSnapshotAt >= intervalMs
    }
}
