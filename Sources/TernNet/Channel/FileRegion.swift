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
    /// Whether the file still holds the bytes the region was planned over (a log truncation may
    /// cut the file and write other data at the same positions). Checked before and after each
    /// `sendfile`/`pread` of the region: false before fails the connection without sending, false
    /// after fails it too (the bytes sent may be the new ones, and a response cannot be taken
    /// back; the client sees a broken connection and retries). Nil: the file never changes.
    public let isCurrent: (@Sendable () -> Bool)?

    /// Creates a region of `count` bytes of `descriptor` starting at `offset`.
    /// - Parameters:
    ///   - owner: kept alive until the region is sent, so that it keeps the file open.
    ///   - isCurrent: false once the bytes at the region may have changed (see ``isCurrent``).
    public init(
        descriptor: Int32, offset: Int64, count: Int, owner: any Sendable, isCurrent: (@Sendable () -> Bool)? = nil
    ) {
        precondition(offset >= 0 && count >= 0, "file region offset \(offset) and count \(count) must not be negative")
        self.descriptor = descriptor
        self.offset = offset
        self.count = count
        self.owner = owner
        self.isCurrent = isCurrent
    }

    /// The failure when ``isCurrent`` says the file changed under the region, else nil.
    func changedError() -> NetError? {
        guard let isCurrent, !isCurrent() else { return nil }
        return NetError(.ioError, "the file under a queued region was truncated; the response cannot be sent")
    }
}
