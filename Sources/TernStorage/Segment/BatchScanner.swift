import TernWire

/// Walks the batches of a segment file from a position, reading the file in chunks (one `pread`
/// per 16 KiB rather than one per header) into a buffer it reuses.
///
/// Without `verifyCRC` it checks only what it needs to step safely from header to header (magic,
/// a length that fits, offsets that do not overflow); with it, every batch is read whole and its
/// CRC checked, as recovery does. Either way it never traps on what it reads: at the first batch
/// it cannot accept it stops, and `stop` says where and why.
struct BatchScanner {
    struct Entry {
        var position: Int64
        var header: RecordBatchHeader
    }

    /// Where and why the scan ended before `limit`.
    struct Stop: Sendable {
        var position: Int64
        var reason: String
    }

    static let chunkSize = 16 * 1024

    let file: SegmentFile
    /// Bytes of the file the scan may look at.
    let limit: Int64
    let verifyCRC: Bool
    /// Where the next batch starts.
    private(set) var position: Int64
    private(set) var stop: Stop?
    /// Bytes read from the file so far.
    private(set) var bytesRead = 0

    private var chunk: [UInt8] = []
    private var chunkStart: Int64 = 0
    private var chunkCount = 0

    init(file: SegmentFile, limit: Int64, from position: Int64, verifyCRC: Bool) {
        self.file = file
        self.limit = limit
        self.position = position
        self.verifyCRC = verifyCRC
    }

    /// The next batch, or nil at `limit` or at the first batch that cannot be accepted.
    mutating func next() throws -> Entry? {
        guard stop == nil, position < limit else { return nil }
        let remaining = limit - position
        let headerSize = RecordBatchHeader.size
        guard remaining >= Int64(headerSize) else {
            return halt("\(remaining) trailing bytes are shorter than a batch header")
        }
        guard try load(headerSize) else { return halt("the file ended inside a batch header") }
        let start = Int(position - chunkStart)
        guard let header = chunk.withUnsafeBytes({ RecordBatchHeader($0, at: start) }) else {
            return halt("unreadable batch header")
        }
        guard header.magic == RecordBatchHeader.currentMagic else { return halt("magic \(header.magic) is not 2") }
        guard header.batchLength >= Int32(headerSize - RecordBatchHeader.logOverhead) else {
            return halt("batchLength \(header.batchLength) is shorter than a batch header")
        }
        let total = header.totalSize
        guard Int64(total) <= remaining else {
            return halt("batchLength \(header.batchLength) runs past the end of the log (\(remaining) bytes left)")
        }
        guard header.baseOffset >= 0, header.lastOffsetDelta >= 0,
            header.baseOffset <= Int64.max - Int64(header.lastOffsetDelta)
        else {
            return halt("impossible offsets: base \(header.baseOffset), last delta \(header.lastOffsetDelta)")
        }
        if verifyCRC {
            guard try load(total) else { return halt("the file ended inside a batch") }
            let start = Int(position - chunkStart)
            let failure = chunk.withUnsafeBytes { raw -> String? in
                do {
                    _ = try RecordBatchValidator.validateStored(
                        UnsafeRawBufferPointer(rebasing: raw[start..<start + total]), at: 0)
                    return nil
                } catch let error as WireError {
                    // The validator names the batch by its place in the buffer; the scan knows the file position.
                    return "\(error.code): \(error.message.replacingPrefix("batch at byte 0: ", with: ""))"
                } catch {
                    return "\(error)"
                }
            }
            if let failure { return halt(failure) }
        }
        let entry = Entry(position: position, header: header)
        position += Int64(total)
        return entry
    }

    /// Calls `body` with the bytes of the batch `next()` returned last. Only for scanners that
    /// verify CRCs (they hold the whole batch in their buffer).
    func withLastBatch<R>(_ entry: Entry, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(verifyCRC, "only a CRC-checking scan holds whole batches")
        let start = Int(entry.position - chunkStart)
        precondition(start >= 0 && start + entry.header.totalSize <= chunkCount, "the batch is no longer buffered")
        return try chunk.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[start..<start + entry.header.totalSize]))
        }
    }

    private mutating func halt(_ reason: String) -> Entry? {
        stop = Stop(position: position, reason: reason)
        return nil
    }

    /// Makes `count` bytes from `position` available in the buffer; false when the file is
    /// shorter than that (it was cut under us).
    private mutating func load(_ count: Int) throws -> Bool {
        let offset = position - chunkStart
        if offset >= 0 && offset + Int64(count) <= Int64(chunkCount) { return true }
        let want = Int(min(Int64(max(count, Self.chunkSize)), limit - position))
        if chunk.count < want { chunk = [UInt8](repeating: 0, count: want) }
        let at = position
        let got = try chunk.withUnsafeMutableBytes { raw in
            try FileSystem.pread(
                file.fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: at, path: file.path)
        }
        bytesRead += got
        chunkStart = position
        chunkCount = got
        return got >= count
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
