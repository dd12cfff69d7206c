import Logging
import Synchronization

/// What one retention pass removed.
public struct RetentionResult: Sendable, Equatable {
    public var deletedSegments: Int
    public var deletedBytes: Int64
    /// The log start offset after the pass.
    public var logStartOffset: Int64
}

extension PartitionLog {
    /// Deletes whole segments from the old end of the log (never the active one): a segment whose
    /// newest record is older than `retentionMs` (when it is not -1), and, while the log would
    /// still hold at least `retentionBytes` without it (when that is not -1), the oldest segment —
    /// so a size-bounded log stays within one segment of its bound, as in Kafka. The log start
    /// offset moves to the first remaining segment. Only segments that end at or below `upTo`
    /// go: a replicated partition passes its high watermark, so retention never deletes a record
    /// that is not committed yet (a follower that then starts over at this log start skips only
    /// committed records, as in Kafka).
    public func applyRetention(retentionMs: Int64, retentionBytes: Int64, nowMs: Int64, upTo: Int64 = .max) throws
        -> RetentionResult
    {
        try maintenanceLock.withLock { _ in
            try applyRetentionHoldingMaintenanceLock(retentionMs, retentionBytes, nowMs, upTo)
        }
    }

    private func applyRetentionHoldingMaintenanceLock(
        _ retentionMs: Int64, _ retentionBytes: Int64, _ nowMs: Int64, _ upTo: Int64
    ) throws -> RetentionResult {
        try state.withLock { state in
            try checkUsable(state)
            var total = state.segments.reduce(Int64(0)) { $0 + $1.size }
            var deleted = 0
            var deletedBytes: Int64 = 0
            while state.segments.count > 1, state.segments[1].baseOffset <= upTo {
                let oldest = state.segments[0]
                let expired =
                    retentionMs >= 0 && oldest.maxTimestamp >= 0 && oldest.maxTimestamp < nowMs - retentionMs
                let oversized = retentionBytes >= 0 && total - oldest.size >= retentionBytes
                guard expired || oversized else { break }
                try state.segments.removeFirst().deleteFiles()
                state.directoryDirty = true
                total -= oldest.size
                deleted += 1
                deletedBytes += oldest.size
            }
            if deleted > 0 {
                state.logStartOffset = max(state.logStartOffset, state.segments[0].baseOffset)
                truncateEpochsFromStart(&state)
                logger.info(
                    "retention deleted segments",
                    metadata: [
                        "segments": "\(deleted)", "bytes": "\(deletedBytes)", "log_start_offset": "\(state.logStartOffset)",
                    ])
            }
            return RetentionResult(
                deletedSegments: deleted, deletedBytes: deletedBytes, logStartOffset: state.logStartOffset)
        }
    }
}
