/// What opening the logs found and did, for logs, metrics and tests.
public struct RecoveryStats: Sendable, Equatable {
    /// Logs opened.
    public var logsOpened = 0
    /// Logs opened without a clean-shutdown marker in their directory.
    public var logsRecovered = 0
    /// Segments whose every batch was read and CRC-checked (after an unclean stop, or when their
    /// index files were unusable).
    public var segmentsScanned = 0
    /// Batches CRC-checked, in full scans and in the tails after the last index entries.
    public var batchesChecked = 0
    /// Bytes read from segment files while checking.
    public var bytesRead: Int64 = 0
    /// Segments whose index files were missing or implausible and were rebuilt from the log.
    public var indexesRebuilt = 0
    /// Sealed segments whose key index file was missing or did not check out and was rebuilt.
    public var keyIndexesRebuilt = 0
    /// Segment files cut at an incomplete or corrupt batch.
    public var truncations = 0
    /// Segments deleted because they followed a cut.
    public var segmentsDeleted = 0
    /// Corrupt stretches (usually one batch each) set aside in `.corrupt` files with good batches
    /// kept after them.
    public var corruptRegions = 0
    /// Bytes of those stretches.
    public var corruptBytes: Int64 = 0
    /// Idempotent producers' batches replayed into producer state after the newest usable
    /// producer snapshot (all of them when there was none).
    public var producerBatchesReplayed = 0

    /// Creates empty statistics.
    public init() {}

    mutating func add(_ other: RecoveryStats) {
        logsOpened += other.logsOpened
        logsRecovered += other.logsRecovered
        segmentsScanned += other.segmentsScanned
        batchesChecked += other.batchesChecked
        bytesRead += other.bytesRead
        indexesRebuilt += other.indexesRebuilt
        keyIndexesRebuilt += other.keyIndexesRebuilt
        truncations += other.truncations
        segmentsDeleted += other.segmentsDeleted
        corruptRegions += other.corruptRegions
        corruptBytes += other.corruptBytes
        producerBatchesReplayed += other.producerBatchesReplayed
    }
}
