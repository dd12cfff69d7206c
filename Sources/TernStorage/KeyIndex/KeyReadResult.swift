/// What a read of one key's records found (``PartitionLog/readKey(_:from:maxOffset:maxBytes:)``).
public struct KeyReadResult: Sendable {
    /// Whole batches holding the key's records, in offset order, one slice per batch. They may
    /// hold other keys' records too: readers keep the records whose key is the one asked for.
    public var slices: [LogSlice]
    /// Total bytes of the slices.
    public var byteCount: Int
    /// Offsets of the key's records in the slices, ascending.
    public var offsets: [Int64]
    /// Where the next read of this key continues: past the last batch returned when the read
    /// stopped at its byte limit, else the bound it read up to (`maxOffset` or the log end).
    public var nextOffset: Int64
    /// The log start offset when the read was made.
    public var logStartOffset: Int64
    /// The log end offset when the read was made.
    public var logEndOffset: Int64
}
