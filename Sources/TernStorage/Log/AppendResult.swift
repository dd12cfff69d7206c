/// Where an append went.
public struct AppendResult: Sendable, Equatable {
    /// Offset of the first record appended.
    public var baseOffset: Int64
    /// Offset of the last record appended.
    public var lastOffset: Int64
    /// The log end offset after the append (the next offset to assign).
    public var logEndOffset: Int64
    /// The log start offset at the time of the append.
    public var logStartOffset: Int64
    /// True when nothing was appended because every batch was an idempotent producer's retry of
    /// batches already stored: `baseOffset`/`lastOffset` are where the originals went.
    public var duplicate: Bool

    /// Creates a result.
    public init(
        baseOffset: Int64, lastOffset: Int64, logEndOffset: Int64, logStartOffset: Int64, duplicate: Bool = false
    ) {
        self.baseOffset = baseOffset
        self.lastOffset = lastOffset
        self.logEndOffset = logEndOffset
        self.logStartOffset = logStartOffset
        self.duplicate = duplicate
    }
}
