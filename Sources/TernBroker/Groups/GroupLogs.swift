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

    /// Appends one validated batch to `log`.
    func appendGroupBatch(_ bytes: inout [UInt8], batches: [ValidatedBatch], to log: PartitionLog) throws
        -> AppendResult

    /// Calls `completion` once everything in `log` below `offset` is durable (at once when the
    /// flush mode does not wait); it may run on the flusher's thread and must not block.
    func whenDurable(
        _ log: PartitionLog, upTo offset: Int64, completion: @escaping @Sendable (Result<Void, StorageError>) -> Void)
}
