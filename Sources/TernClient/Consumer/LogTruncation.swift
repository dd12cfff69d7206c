/// A partition's log found truncated below a consumer's position after a leader change: the new
/// leader's log diverges from the records the consumer fetched (KIP-320 / KIP-595). Records at and
/// after ``divergingOffset`` that the consumer fetched are not in the log any more; those it had
/// already returned from `poll` (``returnedRecordsLost``) were seen by the application and are
/// gone. The consumer resumes at ``resumeOffset`` rather than silently skipping or re-reading.
public struct LogTruncation: Sendable, Hashable, CustomStringConvertible {
    /// The partition.
    public var topicPartition: TopicPartition
    /// Where the leader's log and the fetched records part: the end offset of the diverging epoch
    /// in the leader's log. Nil when the leader knows no epoch at or below the consumer's last
    /// fetched one (the position is then reset by `autoOffsetReset`).
    public var divergingOffset: Int64?
    /// That epoch (the largest at or below the consumer's last fetched epoch that the leader
    /// holds); nil with ``divergingOffset``.
    public var divergingEpoch: Int32?
    /// The leader epoch of the last batch the consumer fetched.
    public var lastFetchedEpoch: Int32
    /// The next offset the consumer would have fetched.
    public var fetchPosition: Int64
    /// The next offset `poll` would have returned.
    public var position: Int64
    /// Where the consumer goes on from; nil when it stopped (`autoOffsetReset` `.none`) or resets
    /// through ListOffsets (no diverging offset).
    public var resumeOffset: Int64?

    /// Records already returned by `poll` that are no longer in the log.
    public var returnedRecordsLost: Int64 {
        guard let divergingOffset else { return 0 }
        return max(0, position - divergingOffset)
    }

    public var description: String {
        var text = "\(topicPartition): the log was truncated after a leader change: "
        if let divergingOffset, let divergingEpoch {
            text +=
                "epoch \(divergingEpoch) ends at offset \(divergingOffset) on the leader, below this consumer's "
                + "fetch position \(fetchPosition) (last fetched epoch \(lastFetchedEpoch))"
        } else {
            text +=
                "the leader knows no leader epoch at or below \(lastFetchedEpoch), the epoch of the last "
                + "fetched batch (fetch position \(fetchPosition))"
        }
        if returnedRecordsLost > 0 {
            text += "; \(returnedRecordsLost) record(s) already returned by poll are no longer in the log"
        }
        if let resumeOffset {
            text += "; resuming at offset \(resumeOffset)"
        } else if divergingOffset == nil {
            text += "; resetting the position (autoOffsetReset)"
        } else {
            text += "; the partition stops until the application seeks (autoOffsetReset none)"
        }
        return text
    }
}
