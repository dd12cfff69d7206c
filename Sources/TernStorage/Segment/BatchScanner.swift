import TernWire

/// Walks the batches of a segment file from a position, reading the file in large chunks (not a
/// read per header). Stops at the end of valid data: end of file, an incomplete batch, a header
/// that makes no sense, or (when verifying) a CRC mismatch — and says why.
struct BatchScanner {
    /// One batch found in the file.
    struct Entry {
        var position: Int64
        var header: RecordBatchHeader
    }

    /// Why a scan stopped before the end of the file.
    struct Stop {
        var position: Int64
        var reason: String
    }

    let file: SegmentFile
    let fileSize: Int64
    let verifyCRC: Bool
    private static let chunkSize = 1 << 20

    private var chunk: [UInt8] = []
    private var chunkStart: Int64 = 0
    private(set) var position: Int64
    private(set) var stop: Stop?

    init(file: SegmentFile, fileSize: Int64, from position: Int64, verifyCRC: Bool) {
        self.file = file
        self.fileSize = fileSize
        self.position = position
        self.verifyCRC = verifyCRC
    }

    /// The next batch, or nil at the end of valid data (see `stop` for why, when not at end of file).
    mutating func next() throws -> Entry? {
        guard stop == nil, position < fileSize else { return nil }
        let headerSize = RecordBatchHeader.size
        guard fileSize - position >= Int64(headerSize) else {
            stop = Stop(position: position, reason: "\(fileSize - position) trailing bytes are shorter than a batch header")
            return nil
        }
        try ensure(headerSize)
        let offsetInChunk = Int(position - chunkStart)
        guard let header = chunk.withUnsafeBytes({ RecordBatchHeader($0, at: offsetInChunk) }) else {
            stop = Stop(position: position, reason: "unreadable batch header")
            return nil
        }
        if header.magic != RecordBatchHeader.currentMagic {
            stop = Stop(position: position, reason: "magic \(header.magic) is not 2")
            return nil
        }
        guard header.batchLength >= Int32(headerSize - RecordBatchHeader.logOverhead) else {
            stop = Stop(position: position, reason: "batchLength \(header.batchLength) is shorter than a header")
            return nil
        }
        let total = header.totalSize
        guard Int64(total) <= fileSize - position else {
            stop = Stop(
                position: position,
                reason: "batch of \(total) bytes runs past the end of the file (\(fileSize - position) bytes left)")
            return nil
        }
        if verifyCRC {
            try ensure(total)
            let start = Int(position - chunkStart)
            let failure = chunk.withUnsafeBytes { raw -> WireError? in
                do {
                    _ = try RecordBatchValidator.validateStored(
                        UnsafeRawBufferPointer(rebasing: raw[start..<start + total]), at: 0)
                    return nil
                } catch {
                    return error as? WireError ?? WireError(.malformed, "\(error)")
                }
            }
            if let failure {
                stop = Stop(position: position, reason: failure.message)
                return nil
            }
        }
        let entry = Entry(position: position, header: header)
        position += Int64(total)
        return entry
    }

    /// Makes `count` bytes from `position` available in `chunk`.
    private mutating func ensure(_ count: Int) throws {
        let offset = position - chunkStart
        if offset >= 0 && offset + Int64(count) <= Int64(chunk.count) { return }
        let want = max(count, Self.chunkSize)
        chunk = try FileSystem.pread(file.fd, count: Int(min(Int64(want), fileSize - position)), at: position, path: file.path)
        chunkStart = position
    }
}
