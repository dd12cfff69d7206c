/// Per-partition storage settings, with Kafka's defaults. The broker owns topic configuration and
/// hands the log its effective values (``LogManager/createLog(_:config:)``,
/// ``LogManager/updateConfig(_:config:)``).
public struct LogConfig: Sendable, Equatable {
    /// Roll a new segment once the active one would grow past this many bytes
    /// (`log.segment.bytes` / `segment.bytes`).
    public var segmentBytes: Int
    /// Roll a new segment once the active one is this many milliseconds old, measured from when
    /// it was created or opened by this process (`log.roll.ms` / `segment.ms`).
    public var segmentMs: Int64
    /// Bytes of log between offset-index entries (`log.index.interval.bytes`).
    public var indexIntervalBytes: Int
    /// The largest batch an append accepts (`max.message.bytes`).
    public var maxMessageBytes: Int
    /// Keep a per-partition index from record key to offsets (`key.index.enable`): what
    /// ``PartitionLog/lastOffset(ofKey:)`` and ``PartitionLog/readKey(_:from:maxOffset:maxBytes:)`` use.
    public var keyIndexEnabled: Bool
    /// Bits of the 64-bit key hash the key index keeps (64). Only tests lower it, to make
    /// different keys share a hash and check that answers stay exact.
    public var keyIndexHashBits: Int

    /// Creates a configuration; every setting defaults to Kafka's.
    public init(
        segmentBytes: Int = 1_073_741_824, segmentMs: Int64 = 604_800_000, indexIntervalBytes: Int = 4096,
        maxMessageBytes: Int = 1_048_588, keyIndexEnabled: Bool = false, keyIndexHashBits: Int = 64
    ) {
        self.segmentBytes = segmentBytes
        self.segmentMs = segmentMs
        self.indexIntervalBytes = indexIntervalBytes
        self.maxMessageBytes = maxMessageBytes
        self.keyIndexEnabled = keyIndexEnabled
        self.keyIndexHashBits = min(max(keyIndexHashBits, 0), 64)
    }
}
