import TernStorage
import TernWire

/// How the coordinator reaches `__consumer_offsets`: the broker's logs (``Broker`` conforms);
/// tests wrap real logs to inject a failed append or flush.
///
/// The coordinator calls the first two on its I/O queue only, never on a network queue and never
/// under its lock: they touch the disk.
protocol GroupLogs: Sendable {
    /// The log of partition `partition` of `__consumer_offsets`, creating the topic first when
    /// it does not exist yet (50 partitions: many directory fsyncs).
    func offsetsLog(_ partition: Int32) throws -> PartitionLog

    /// Appends one validated batch to `log`. On a replicated partition only its leader appends
    /// (a ``GroupStorageFailure`` with NOT_COORDINATOR otherwise), and only while its in-sync set
    /// is at least `min.insync.replicas` (COORDINATOR_NOT_AVAILABLE otherwise: nothing written).
    func appendGroupBatch(_ bytes: inout [UInt8], batches: [ValidatedBatch], to log: PartitionLog) throws
        -> GroupAppend

    /// Calls `completion` once `append` is committed — durable here for a single-replica
    /// partition (at once when the flush mode does not wait), past the high watermark of its
    /// leader epoch for a replicated one — with nil, or with why it is not (then `written` is
    /// set: the batch is in the log and may yet be replayed). It may run on the flusher's or a
    /// replication thread and must not block.
    func whenCommitted(
        _ log: PartitionLog, _ append: GroupAppend, completion: @escaping @Sendable (GroupStorageFailure?) -> Void)
}

/// Where an appended group batch ends, and for a replicated `__consumer_offsets` partition the
/// leader epoch it was appended in: only that epoch's high watermark commits it.
struct GroupAppend: Sendable {
    /// Exclusive end offset of the batch.
    let endOffset: Int64
    /// nil for a single-replica partition (its own fsync commits it).
    let leaderEpoch: Int32?
}
