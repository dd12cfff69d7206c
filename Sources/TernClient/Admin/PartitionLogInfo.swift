/// What a broker's disk holds for one partition (DescribeLogDirs).
public struct PartitionLogInfo: Hashable, Sendable {
    public var topic: String
    public var partition: Int32
    /// The broker's log directory holding the partition.
    public var logDir: String
    /// Bytes of the partition's segment files.
    public var sizeBytes: Int64
    public var logStartOffset: Int64
    public var logEndOffset: Int64
    public var segmentCount: Int32
    /// The log cleaner's checkpoint: offsets below it are compacted (0 when never compacted).
    public var firstDirtyOffset: Int64
    /// Wall-clock ms of the last compaction since the broker started; nil for none.
    public var lastCleanedMs: Int64?
    /// Why the cleaner gave up on the partition, if it did.
    public var cleanerError: String?

    /// Creates a value.
    public init(
        topic: String, partition: Int32, logDir: String, sizeBytes: Int64, logStartOffset: Int64, logEndOffset: Int64,
        segmentCount: Int32, firstDirtyOffset: Int64, lastCleanedMs: Int64?, cleanerError: String?
    ) {
        self.topic = topic
        self.partition = partition
        self.logDir = logDir
        self.sizeBytes = sizeBytes
        self.logStartOffset = logStartOffset
        self.logEndOffset = logEndOffset
        self.segmentCount = segmentCount
        self.firstDirtyOffset = firstDirtyOffset
        self.lastCleanedMs = lastCleanedMs
        self.cleanerError = cleanerError
    }
}
