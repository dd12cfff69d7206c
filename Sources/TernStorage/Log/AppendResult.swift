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

    /// Creates a result.
    public init(baseOffset: Int64, lastOffset: Int64, logEndOffset: Int64, logStartOffset: Int64) {
        self.baseOffset = baseOffset
        self.lastOffset = lastOffset
        self.logEndOffset = logEndOffset
        self.logStartOffset = logStartOffset
    }
}
