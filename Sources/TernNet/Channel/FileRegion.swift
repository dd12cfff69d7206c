/// A region of an open file, sent to a socket with `sendfile(2)`.
///
/// TernNet does not own the descriptor: `owner` does, and the region keeps `owner` referenced
/// until every byte of it has been sent (or the connection closed), so the file stays open.
public struct FileRegion: Sendable {
    /// The open file's descriptor.
    public let descriptor: Int32
    /// Where in the file the region starts.
    public let offset: Int64
    /// How many bytes to send.
    public let count: Int
    /// Whatever keeps `descriptor` open (for example a segment file handle).
    public let owner: any Sendable

    /// Creates a region of `count` bytes of `descriptor` starting at `offset`.
    /// - Parameter owner: kept alive until the region is sent, so that it keeps the file open.
    public init(descriptor: Int32, offset: Int64, count: Int, owner: any Sendable) {
        precondition(offset >= 0 && count >= 0, "file region offset \(offset) and count \(count) must not be negative")
        self.descriptor = descriptor
        self.offset = offset
        self.count = count
        self.owner = owner
    }
}
