/// A chunk of a response: bytes in memory, or a region of an open file sent with `sendfile(2)`.
public enum OutboundChunk: Sendable {
    /// Bytes written as they are.
    case bytes([UInt8])
    /// A file region sent straight from the page cache to the socket.
    case file(FileRegion)

    /// The number of bytes this chunk puts on the wire.
    var byteCount: Int {
        switch self {
        case .bytes(let bytes): return bytes.count
        case .file(let region): return region.count
        }
    }
}
