/// Builds one record batch in place: records are encoded straight into the batch bytes as they
/// are appended, and `finish` fills in the header and CRC. Used by producers and by tests.
public struct RecordBatchBuilder: Sendable {
    private var writer: ByteWriter
    private let baseTimestamp: Int64
    private var maxTimestamp: Int64
    /// Number of records appended so far.
    public private(set) var recordCount: Int32 = 0
    private let attributes: Int16
    private let producerId: Int64
    private let producerEpoch: Int16
    private let baseSequence: Int32

    /// Starts a batch whose records' timestamps are relative to `baseTimestamp`.
    public init(
        baseTimestamp: Int64, capacity: Int = 16 * 1024, producerId: Int64 = -1, producerEpoch: Int16 = -1,
        baseSequence: Int32 = -1
    ) {
        writer = ByteWriter(capacity: capacity)
        self.baseTimestamp = baseTimestamp
        // Records may carry timestamps older than the base; the first append sets the real maximum.
        self.maxTimestamp = Int64.min
        self.attributes = 0
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        writer.write(contentsOf: repeatElement(UInt8(0), count: RecordBatchHeader.size))
    }

    /// Bytes the batch occupies so far, header included.
    public var sizeInBytes: Int { writer.count }

    /// Bytes `append` would add for a record of this shape (an upper bound within a few bytes).
    public static func estimatedRecordSize(keyCount: Int?, valueCount: Int?, headers: [RecordHeader] = []) -> Int {
        var size = 1 + 10 + 5 + 5 + (keyCount ?? 0) + 5 + (valueCount ?? 0) + 5
        for header in headers { size += 10 + header.key.utf8.count + (header.value?.count ?? 0) }
        return size + 5
    }

    /// Appends a record; its offset delta is the number of records before it.
    public mutating func append(
        key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = [], timestamp: Int64? = nil
    ) {
        let timestamp = timestamp ?? baseTimestamp
        if timestamp > maxTimestamp { maxTimestamp = timestamp }
        let timestampDelta = timestamp - baseTimestamp
        var bodySize = 1 + ZigZag.varlongSize(timestampDelta) + ZigZag.varintSize(recordCount)
        bodySize += lengthPrefixedSize(key?.count) + lengthPrefixedSize(value?.count)
        bodySize += ZigZag.varintSize(Int32(headers.count))
        for header in headers {
            bodySize += lengthPrefixedSize(header.key.utf8.count) + lengthPrefixedSize(header.value?.count)
        }
        // The fields before the key (length, attributes, timestamp delta, offset delta, key
        // length: at most 5 + 1 + 10 + 5 + 5 bytes) and those between key and value go through a
        // stack scratch buffer, one append each, instead of one append per byte.
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 1) { scratch in
            var n = 0
            n = Self.put(UInt64(ZigZag.encode32(Int32(bodySize))), scratch, n)
            scratch[n] = 0
            n += 1
            n = Self.put(ZigZag.encode64(timestampDelta), scratch, n)
            n = Self.put(UInt64(ZigZag.encode32(recordCount)), scratch, n)
            n = Self.put(UInt64(ZigZag.encode32(key.map { Int32($0.count) } ?? -1)), scratch, n)
            writer.write(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<n]))
            if let key { writer.write(contentsOf: key) }
            n = Self.put(UInt64(ZigZag.encode32(value.map { Int32($0.count) } ?? -1)), scratch, 0)
            writer.write(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<n]))
        }
        if let value { writer.write(contentsOf: value) }
        writer.writeVarint(Int32(headers.count))
        for header in headers {
            writer.writeVarint(Int32(header.key.utf8.count))
            writer.write(contentsOf: header.key.utf8)
            writeLengthPrefixed(header.value)
        }
        recordCount += 1
    }

    /// Writes `value` as an unsigned LEB128 varint at `index` of `buffer`; returns the index after it.
    @inline(__always)
    private static func put(_ value: UInt64, _ buffer: UnsafeMutableRawBufferPointer, _ index: Int) -> Int {
        var v = value
        var i = index
        while v >= 0x80 {
            buffer[i] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            i += 1
        }
        buffer[i] = UInt8(truncatingIfNeeded: v)
        return i + 1
    }

    private func lengthPrefixedSize(_ count: Int?) -> Int {
        guard let count else { return 1 }
        return ZigZag.varintSize(Int32(count)) + count
    }

    private mutating func writeLengthPrefixed(_ bytes: [UInt8]?) {
        guard let bytes else { return writer.writeVarint(-1) }
        writer.writeVarint(Int32(bytes.count))
        writer.write(contentsOf: bytes)
    }

    /// Completes the header and CRC and returns the batch bytes (base offset 0), with the
    /// records compressed by `compression` (`.none` or `.gzip`).
    public mutating func finish(compression: CompressionCodec = .none) -> [UInt8] {
        precondition(recordCount > 0, "a record batch needs at least one record")
        precondition(compression == .none || compression == .gzip, "only gzip compression is built in")
        var bytes = writer.take()
        if compression == .gzip {
            let compressed = bytes.withUnsafeBytes { Gzip.compress(UnsafeRawBufferPointer(rebasing: $0[RecordBatchHeader.size...])) }
            bytes.removeLast(bytes.count - RecordBatchHeader.size)
            bytes.append(contentsOf: compressed)
        }
        let attributes = self.attributes | Int16(compression.rawValue)
        bytes.withUnsafeMutableBytes { raw in
            func put16(_ v: Int16, _ o: Int) {
                raw[o] = UInt8(truncatingIfNeeded: UInt16(bitPattern: v) >> 8)
                raw[o + 1] = UInt8(truncatingIfNeeded: UInt16(bitPattern: v))
            }
            typealias O = RecordBatchHeader.Offset
            BigEndian.store(UInt64(0), at: O.baseOffset, in: raw)
            BigEndian.store(UInt32(raw.count - RecordBatchHeader.logOverhead), at: O.batchLength, in: raw)
            BigEndian.store(UInt32(bitPattern: -1), at: O.partitionLeaderEpoch, in: raw)
            raw[O.magic] = UInt8(bitPattern: RecordBatchHeader.currentMagic)
            put16(attributes, O.attributes)
            BigEndian.store(UInt32(bitPattern: recordCount - 1), at: O.lastOffsetDelta, in: raw)
            BigEndian.store(UInt64(bitPattern: baseTimestamp), at: O.baseTimestamp, in: raw)
            BigEndian.store(UInt64(bitPattern: maxTimestamp), at: O.maxTimestamp, in: raw)
            BigEndian.store(UInt64(bitPattern: producerId), at: O.producerId, in: raw)
            put16(producerEpoch, O.producerEpoch)
            BigEndian.store(UInt32(bitPattern: baseSequence), at: O.baseSequence, in: raw)
            BigEndian.store(UInt32(bitPattern: recordCount), at: O.recordCount, in: raw)
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[O.attributes...]))
            BigEndian.store(crc, at: O.crc, in: raw)
        }
        return bytes
    }
}
