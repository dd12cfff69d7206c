/// What validation learned about one batch.
public struct ValidatedBatch: Sendable, Hashable {
    /// Where the batch starts in the validated buffer.
    public var position: Int
    /// The batch's parsed header.
    public var header: RecordBatchHeader
    /// Total bytes of the batch.
    public var size: Int { header.totalSize }

    public init(position: Int, header: RecordBatchHeader) {
        self.position = position
        self.header = header
    }
}

/// Checks record batches before they are stored or handed to an application.
///
/// `validateProduced` is what the broker runs on a produce request: every batch's size, magic,
/// CRC, record count and the framing of every record (walked without allocating), with record
/// offset deltas `0..<count` and `maxTimestamp` equal to the records' largest timestamp.
/// `validateStored` is the cheaper check for bytes read back from a log: size, magic and CRC.
public enum RecordBatchValidator {
    /// Validates a produce payload holding one or more batches, end to end. With `requireKeys`
    /// (topics whose cleanup policy includes compact), a record without a key is refused too.
    /// - Throws: ``WireError`` naming the batch (by index) and what is wrong with it:
    ///   `.checksumMismatch`, `.unsupportedVersion` (magic), `.unsupportedCompression`,
    ///   `.truncated` or `.malformed` (framing, counts, deltas).
    public static func validateProduced(_ buffer: UnsafeRawBufferPointer, requireKeys: Bool = false) throws(WireError)
        -> [ValidatedBatch]
    {
        guard !buffer.isEmpty else { throw WireError(.malformed, "record set is empty") }
        var batches: [ValidatedBatch] = []
        var position = 0
        while position < buffer.count {
            let header = try checkFrame(buffer, at: position, index: batches.count)
            try checkRecords(buffer, header: header, at: position, index: batches.count, requireKeys: requireKeys)
            batches.append(ValidatedBatch(position: position, header: header))
            position += header.totalSize
        }
        return batches
    }

    /// Validates the batch at `position` as stored data: complete, magic 2, CRC matching.
    /// Returns its header. Used by log recovery and by readers of log bytes.
    public static func validateStored(_ buffer: UnsafeRawBufferPointer, at position: Int) throws(WireError)
        -> RecordBatchHeader
    {
        try checkFrame(buffer, at: position, index: nil)
    }

    /// Header, length, magic and CRC checks shared by both modes.
    static func checkFrame(_ buffer: UnsafeRawBufferPointer, at position: Int, index: Int?) throws(WireError)
        -> RecordBatchHeader
    {
        let name = index.map { "batch \($0)" } ?? "batch at byte \(position)"
        guard let header = RecordBatchHeader(buffer, at: position) else {
            throw WireError(.truncated, "\(name): \(buffer.count - position) bytes is shorter than a batch header")
        }
        guard header.magic == RecordBatchHeader.currentMagic else {
            throw WireError(.unsupportedVersion, "\(name): magic \(header.magic), only magic 2 is supported")
        }
        guard header.batchLength >= Int32(RecordBatchHeader.size - RecordBatchHeader.logOverhead) else {
            throw WireError(.malformed, "\(name): batchLength \(header.batchLength) is shorter than the header")
        }
        guard header.totalSize <= buffer.count - position else {
            throw WireError(
                .truncated, "\(name): batchLength \(header.batchLength) runs past the \(buffer.count - position) bytes present")
        }
        let crcStart = position + RecordBatchHeader.Offset.attributes
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[crcStart..<position + header.totalSize]))
        guard computed == header.crc else {
            throw WireError(
                .checksumMismatch,
                "\(name): CRC-32C is \(hex(computed)), header says \(hex(header.crc))")
        }
        guard header.recordCount >= 0, header.lastOffsetDelta >= 0 else {
            throw WireError(.malformed, "\(name): negative recordCount or lastOffsetDelta")
        }
        // baseOffset is outside the CRC; refuse a range that cannot be represented, so that
        // `lastOffset` of a validated header never overflows.
        guard header.baseOffset <= Int64.max - Int64(header.lastOffsetDelta) else {
            throw WireError(
                .malformed,
                "\(name): baseOffset \(header.baseOffset) + lastOffsetDelta \(header.lastOffsetDelta) overflows")
        }
        return header
    }

    /// Walks every record of a producer batch.
    static func checkRecords(
        _ buffer: UnsafeRawBufferPointer, header: RecordBatchHeader, at position: Int, index: Int, requireKeys: Bool
    ) throws(WireError) {
        let name = "batch \(index)"
        guard header.recordCount > 0 else { throw WireError(.malformed, "\(name): recordCount is 0") }
        guard header.lastOffsetDelta == header.recordCount - 1 else {
            throw WireError(
                .malformed,
                "\(name): lastOffsetDelta \(header.lastOffsetDelta) does not match recordCount \(header.recordCount)")
        }
        let codec = header.compression
        switch codec {
        case .some(.none):
            let end = position + header.totalSize
            let maxTimestamp = try walkRecords(
                buffer, from: position + RecordBatchHeader.size, to: end, header: header, name: name,
                requireKeys: requireKeys)
            try checkMaxTimestamp(header, maxTimestamp, name: name)
        case .some(.gzip):
            // Decompressed once, walked, then dropped: the batch is stored as it came.
            let compressed = UnsafeRawBufferPointer(
                rebasing: buffer[(position + RecordBatchHeader.size)..<(position + header.totalSize)])
            let records: [UInt8]
            do {
                records = try Gzip.decompress(compressed, limit: maxDecompressedBytes)
            } catch {
                throw WireError(.malformed, "\(name): \(error.message)")
            }
            var maxTimestamp = Int64.min
            var failure: WireError?
            records.withUnsafeBytes { raw in
                do {
                    maxTimestamp = try walkRecords(
                        raw, from: 0, to: raw.count, header: header, name: name, requireKeys: requireKeys)
                } catch {
                    failure = error as? WireError ?? WireError(.malformed, "\(error)")
                }
            }
            if let failure { throw failure }
            try checkMaxTimestamp(header, maxTimestamp, name: name)
        default:
            let codecName = codec.map(\.description) ?? "code \(header.attributes & 7)"
            throw WireError(.unsupportedCompression, "\(name): compression \(codecName) is not supported by this broker")
        }
    }

    /// Most bytes a compressed batch may expand to (a bound against decompression bombs).
    public static let maxDecompressedBytes = 64 << 20

    /// Walks `recordCount` records in `buffer[start..<end]`; returns the largest timestamp.
    static func walkRecords(
        _ buffer: UnsafeRawBufferPointer, from start: Int, to end: Int, header: RecordBatchHeader, name: String,
        requireKeys: Bool = false
    ) throws(WireError) -> Int64 {
        var cursor = RawCursor(buffer, from: start, to: end)
        var maxTimestamp = Int64.min
        for expectedDelta in 0..<header.recordCount {
            let timestampDelta = try RecordWalker.checkRecord(
                &cursor, expectedOffsetDelta: expectedDelta, batch: name, requireKey: requireKeys)
            let timestamp = header.baseTimestamp &+ timestampDelta
            if timestamp > maxTimestamp { maxTimestamp = timestamp }
        }
        guard cursor.position == end else {
            throw WireError(
                .malformed, "\(name): \(end - cursor.position) bytes left after \(header.recordCount) records")
        }
        return maxTimestamp
    }

    static func checkMaxTimestamp(_ header: RecordBatchHeader, _ maxTimestamp: Int64, name: String) throws(WireError) {
        guard header.isLogAppendTime || maxTimestamp == header.maxTimestamp else {
            throw WireError(
                .malformed, "\(name): maxTimestamp \(header.maxTimestamp) but the largest record timestamp is \(maxTimestamp)")
        }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}

/// The framing of a single record inside a batch.
enum RecordWalker {
    /// Checks one record's framing; returns its timestamp delta.
    static func checkRecord(
        _ cursor: inout RawCursor, expectedOffsetDelta: Int32, batch: String, requireKey: Bool = false
    ) throws(WireError) -> Int64 {
        let length = try cursor.readVarint("record length")
        guard length > 0, Int(length) <= cursor.remaining else {
            throw WireError(
                .malformed,
                "\(batch) record \(expectedOffsetDelta): length \(length) with \(cursor.remaining) bytes left")
        }
        let recordEnd = cursor.position + Int(length)
        var record = RawCursor(cursor.buffer, from: cursor.position, to: recordEnd)
        _ = try record.readInt8("record attributes")
        let timestampDelta = try record.readVarlong("timestampDelta")
        let offsetDelta = try record.readVarint("offsetDelta")
        guard offsetDelta == expectedOffsetDelta else {
            throw WireError(
                .malformed, "\(batch) record \(expectedOffsetDelta): offsetDelta \(offsetDelta), expected \(expectedOffsetDelta)")
        }
        let key = try record.skipLengthPrefixed("key", nullable: true)
        guard key != nil || !requireKey else {
            throw WireError(
                .malformed,
                "\(batch) record \(expectedOffsetDelta) has no key; a topic with cleanup.policy=compact needs one")
        }
        _ = try record.skipLengthPrefixed("value", nullable: true)
        let headerCount = try record.readVarint("headerCount")
        guard headerCount >= 0 else {
            throw WireError(.malformed, "\(batch) record \(expectedOffsetDelta): negative header count")
        }
        for _ in 0..<headerCount {
            _ = try record.skipLengthPrefixed("header key", nullable: false)
            _ = try record.skipLengthPrefixed("header value", nullable: true)
        }
        guard record.position == recordEnd else {
            throw WireError(
                .malformed,
                "\(batch) record \(expectedOffsetDelta): \(recordEnd - record.position) bytes left inside the record")
        }
        cursor.position = recordEnd
        return timestampDelta
    }
}
