import TernWire

/// A record to put in a test batch: what a producer hands to ``RecordBatchBuilder``.
public struct TestRecord: Sendable, Hashable {
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader]
    /// Milliseconds since the epoch; nil means the batch's base timestamp.
    public var timestamp: Int64?

    public init(key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = [], timestamp: Int64? = nil) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// A record with UTF-8 key and value (nil stays nil).
    @_disfavoredOverload
    public init(key: String?, value: String?, headers: [RecordHeader] = [], timestamp: Int64? = nil) {
        self.init(
            key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) }, headers: headers, timestamp: timestamp
        )
    }
}

/// The base timestamp test batches use unless told otherwise (2023-11-14T22:13:20Z).
public let defaultTestTimestamp: Int64 = 1_700_000_000_000

/// Builds one valid, uncompressed record batch holding `records` in order.
///
/// The batch passes `RecordBatchValidator.validateProduced`; its base offset is `baseOffset`
/// (0 unless given), which lies outside the CRC.
public func makeBatch(
    records: [TestRecord], baseOffset: Int64 = 0, baseTimestamp: Int64 = defaultTestTimestamp,
    producerId: Int64 = -1, producerEpoch: Int16 = -1, baseSequence: Int32 = -1
) -> [UInt8] {
    precondition(!records.isEmpty, "a batch needs at least one record")
    var builder = RecordBatchBuilder(
        baseTimestamp: baseTimestamp, producerId: producerId, producerEpoch: producerEpoch, baseSequence: baseSequence)
    for record in records {
        builder.append(key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp)
    }
    var bytes = builder.finish()
    if baseOffset != 0 {
        bytes.withUnsafeMutableBytes {
            RecordBatchHeader.assign(baseOffset: baseOffset, partitionLeaderEpoch: -1, in: $0, at: 0)
        }
    }
    return bytes
}

/// Builds a batch of `count` records keyed `key-<i>` with values `value-<i>` (or `valueSize`
/// bytes of `i % 256` when given), timestamps `baseTimestamp + i`.
public func makeBatch(
    count: Int, baseOffset: Int64 = 0, baseTimestamp: Int64 = defaultTestTimestamp, valueSize: Int? = nil
) -> [UInt8] {
    makeBatch(
        records: testRecords(count: count, baseTimestamp: baseTimestamp, valueSize: valueSize), baseOffset: baseOffset,
        baseTimestamp: baseTimestamp)
}

/// The records `makeBatch(count:…)` puts in its batch.
public func testRecords(count: Int, baseTimestamp: Int64 = defaultTestTimestamp, valueSize: Int? = nil) -> [TestRecord]
{
    (0..<count).map { i in
        let value =
            valueSize.map { [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: $0) } ?? Array("value-\(i)".utf8)
        return TestRecord(key: Array("key-\(i)".utf8), value: value, timestamp: baseTimestamp + Int64(i))
    }
}

/// The records a decoder should return for a batch built from `records` at `baseOffset`.
public func expectedRecords(
    _ records: [TestRecord], baseOffset: Int64 = 0, baseTimestamp: Int64 = defaultTestTimestamp
) -> [Record] {
    records.enumerated().map { i, r in
        Record(
            offset: baseOffset + Int64(i), timestamp: r.timestamp ?? baseTimestamp, key: r.key, value: r.value,
            headers: r.headers)
    }
}

/// Decodes every record of the complete batches in `bytes` (a partial trailing batch is skipped).
public func decodeRecords(_ bytes: [UInt8], minOffset: Int64 = 0) throws -> [Record] {
    var records: [Record] = []
    try RecordBatchDecoder.decode(bytes, minOffset: minOffset, into: &records)
    return records
}

/// Byte-level surgery on record batches, for tests that need a batch broken in one exact way.
///
/// The setters write big-endian values at a header field offset (``RecordBatchHeader/Offset``)
/// of the batch starting at `batch` and do not touch the CRC; call ``recomputeCRC(_:batchAt:)``
/// afterwards to make only the intended field wrong.
public enum BatchSurgery {
    /// Writes a big-endian i64 at `field` of the batch at `batch`.
    public static func set(_ value: Int64, field: Int, in bytes: inout [UInt8], batchAt batch: Int = 0) {
        bytes.withUnsafeMutableBytes { BigEndian.store(UInt64(bitPattern: value), at: batch + field, in: $0) }
    }

    /// Writes a big-endian i32 at `field` of the batch at `batch`.
    public static func set(_ value: Int32, field: Int, in bytes: inout [UInt8], batchAt batch: Int = 0) {
        bytes.withUnsafeMutableBytes { BigEndian.store(UInt32(bitPattern: value), at: batch + field, in: $0) }
    }

    /// Writes a big-endian i16 at `field` of the batch at `batch`.
    public static func set(_ value: Int16, field: Int, in bytes: inout [UInt8], batchAt batch: Int = 0) {
        let raw = UInt16(bitPattern: value)
        bytes[batch + field] = UInt8(truncatingIfNeeded: raw >> 8)
        bytes[batch + field + 1] = UInt8(truncatingIfNeeded: raw)
    }

    /// Writes a byte at `field` of the batch at `batch`.
    public static func set(_ value: Int8, field: Int, in bytes: inout [UInt8], batchAt batch: Int = 0) {
        bytes[batch + field] = UInt8(bitPattern: value)
    }

    /// The CRC-32C the batch at `batch` should carry: over its attributes to the end of the batch
    /// as its batchLength says, clamped to the buffer (so garbage headers are fine).
    public static func computedCRC(_ bytes: [UInt8], batchAt batch: Int = 0) -> UInt32 {
        let start = min(bytes.count, batch + RecordBatchHeader.Offset.attributes)
        guard bytes.count >= batch + RecordBatchHeader.logOverhead else {
            return CRC32C.checksum(bytes, range: start..<start)
        }
        let length = bytes.withUnsafeBytes {
            Int(Int32(bitPattern: BigEndian.uint32(at: batch + RecordBatchHeader.Offset.batchLength, in: $0)))
        }
        let end = min(bytes.count, max(start, batch + RecordBatchHeader.logOverhead + length))
        return CRC32C.checksum(bytes, range: start..<end)
    }

    /// Rewrites the CRC of the batch at `batch` so that it matches the batch's bytes; does nothing
    /// when the buffer is too short to hold the CRC field.
    public static func recomputeCRC(_ bytes: inout [UInt8], batchAt batch: Int = 0) {
        guard bytes.count >= batch + RecordBatchHeader.Offset.attributes else { return }
        let crc = computedCRC(bytes, batchAt: batch)
        bytes.withUnsafeMutableBytes { BigEndian.store(crc, at: batch + RecordBatchHeader.Offset.crc, in: $0) }
    }

    /// Rewrites batchLength to match `bytes.count - batch`, then the CRC (after records were added
    /// or removed at the end of the last batch).
    public static func fixLengthAndCRC(_ bytes: inout [UInt8], batchAt batch: Int = 0) {
        set(
            Int32(bytes.count - batch - RecordBatchHeader.logOverhead), field: RecordBatchHeader.Offset.batchLength,
            in: &bytes, batchAt: batch)
        recomputeCRC(&bytes, batchAt: batch)
    }
}

/// One record's bytes laid out field by field, so tests can write records a builder never would
/// (wrong offset deltas, bad lengths, negative header counts).
public struct RawRecord: Sendable {
    public var attributes: Int8 = 0
    public var timestampDelta: Int64 = 0
    public var offsetDelta: Int32
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader] = []
    /// Replaces the real header count when set.
    public var headerCountOverride: Int32?
    /// Added to the correct record length (0 keeps the framing right).
    public var lengthAdjustment: Int32 = 0
    /// Bytes appended inside the record after its headers.
    public var trailing: [UInt8] = []

    public init(offsetDelta: Int32, key: [UInt8]? = nil, value: [UInt8]? = [1, 2, 3], timestampDelta: Int64 = 0) {
        self.offsetDelta = offsetDelta
        self.key = key
        self.value = value
        self.timestampDelta = timestampDelta
    }

    /// The record's bytes: a length varint then the body.
    public func encoded() -> [UInt8] {
        var body = ByteWriter()
        body.write(attributes)
        body.writeVarlong(timestampDelta)
        body.writeVarint(offsetDelta)
        func lengthPrefixed(_ bytes: [UInt8]?) {
            guard let bytes else { return body.writeVarint(-1) }
            body.writeVarint(Int32(bytes.count))
            body.write(contentsOf: bytes)
        }
        lengthPrefixed(key)
        lengthPrefixed(value)
        body.writeVarint(headerCountOverride ?? Int32(headers.count))
        for header in headers {
            lengthPrefixed(Array(header.key.utf8))
            lengthPrefixed(header.value)
        }
        body.write(contentsOf: trailing)
        var out = ByteWriter()
        out.writeVarint(Int32(body.count) + lengthAdjustment)
        out.write(contentsOf: body.bytes)
        return out.bytes
    }
}

/// Assembles a batch header around raw record bytes, with every header field under the caller's
/// control, and a correct CRC (unless `crc` is given).
public func makeRawBatch(
    records: [UInt8], recordCount: Int32, lastOffsetDelta: Int32? = nil, baseOffset: Int64 = 0,
    magic: Int8 = RecordBatchHeader.currentMagic, attributes: Int16 = 0, baseTimestamp: Int64 = defaultTestTimestamp,
    maxTimestamp: Int64? = nil, producerId: Int64 = -1, producerEpoch: Int16 = -1, baseSequence: Int32 = -1,
    batchLengthAdjustment: Int32 = 0, crc: UInt32? = nil
) -> [UInt8] {
    var w = ByteWriter(capacity: RecordBatchHeader.size + records.count)
    w.write(baseOffset)
    w.write(Int32(RecordBatchHeader.size - RecordBatchHeader.logOverhead + records.count) + batchLengthAdjustment)
    w.write(Int32(-1))
    w.write(magic)
    w.write(UInt32(0))
    w.write(attributes)
    w.write(lastOffsetDelta ?? (recordCount - 1))
    w.write(baseTimestamp)
    w.write(maxTimestamp ?? baseTimestamp)
    w.write(producerId)
    w.write(producerEpoch)
    w.write(baseSequence)
    w.write(recordCount)
    w.write(contentsOf: records)
    var bytes = w.take()
    let checksum = crc ?? CRC32C.checksum(bytes, range: RecordBatchHeader.Offset.attributes..<bytes.count)
    bytes.withUnsafeMutableBytes { BigEndian.store(checksum, at: RecordBatchHeader.Offset.crc, in: $0) }
    return bytes
}

/// `makeRawBatch` over records given as ``RawRecord``s.
public func makeRawBatch(
    _ records: [RawRecord], recordCount: Int32? = nil, lastOffsetDelta: Int32? = nil, attributes: Int16 = 0,
    baseTimestamp: Int64 = defaultTestTimestamp, maxTimestamp: Int64? = nil
) -> [UInt8] {
    let count = recordCount ?? Int32(records.count)
    let timestamps = records.map { baseTimestamp &+ $0.timestampDelta }
    return makeRawBatch(
        records: records.flatMap { $0.encoded() }, recordCount: count, lastOffsetDelta: lastOffsetDelta,
        attributes: attributes, baseTimestamp: baseTimestamp,
        maxTimestamp: maxTimestamp ?? timestamps.max() ?? baseTimestamp)
}
