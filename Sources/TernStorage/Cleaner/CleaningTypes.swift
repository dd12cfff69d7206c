/// What a compaction of one log is told.
public struct CleaningOptions: Sendable {
    /// Tombstones (null values) are removed from segments whose newest record is older than
    /// this many milliseconds before `nowMs` (`delete.retention.ms`).
    public var deleteRetentionMs: Int64
    /// Wall-clock milliseconds now.
    public var nowMs: Int64
    /// Nothing at or above this offset is cleaned (the high watermark); the active segment never is.
    public var upperBound: Int64
    /// Clean the already-compacted part even when nothing is dirty (kept tombstones have expired).
    public var force: Bool

    /// Creates options.
    public init(deleteRetentionMs: Int64, nowMs: Int64, upperBound: Int64 = .max, force: Bool = false) {
        self.deleteRetentionMs = deleteRetentionMs
        self.nowMs = nowMs
        self.upperBound = upperBound
        self.force = force
    }
}

/// What one compaction of a log did.
public struct CleaningResult: Sendable, Equatable {
    /// Bytes of dirty log whose keys were mapped (the throughput measure: "dirty bytes cleaned").
    public var dirtyBytes: Int64 = 0
    /// Bytes of segments read and rewritten (the clean part is copied again too).
    public var bytesRead: Int64 = 0
    /// Bytes of the segments written in their place.
    public var bytesWritten: Int64 = 0
    /// Records dropped because a later record has the same key.
    public var recordsRemoved = 0
    /// Tombstones dropped because they were older than `delete.retention.ms`.
    public var tombstonesRemoved = 0
    /// Segments replaced, and segments that replaced them.
    public var segmentsReplaced = 0
    public var segmentsWritten = 0
    /// The cleaner checkpoint afterwards: the dirty section starts here.
    public var firstDirtyOffset: Int64 = 0
    /// True when the map filled up before the end of the dirty section (a later pass goes on).
    public var mapFilled = false
}

/// How much of a log is dirty: the basis of the cleaner's choice of log.
public struct CleanableStats: Sendable, Equatable {
    /// Bytes of segments wholly below the cleaner checkpoint.
    public var cleanBytes: Int64
    /// Bytes of cleanable segments (below the active one and the upper bound) from the
    /// checkpoint on.
    public var dirtyBytes: Int64
    /// The cleaner checkpoint.
    public var firstDirtyOffset: Int64
    /// True when tombstones kept by an earlier cleaning have become removable.
    public var tombstonesDue: Bool

    /// dirty / (clean + dirty); 0 for an empty cleanable section.
    public var dirtyRatio: Double {
        let total = cleanBytes + dirtyBytes
        return total > 0 ? Double(dirtyBytes) / Double(total) : 0
    }
}
