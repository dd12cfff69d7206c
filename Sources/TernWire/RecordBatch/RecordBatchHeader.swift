/// The fixed 61-byte header of a record batch (Kafka record-batch v2, magic 2).
///
/// ```
/// 0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8 | 17 crc u32 |
/// 21 attributes i16 | 23 lastOffsetDelta i32 | 27 baseTimestamp i64 | 35 maxTimestamp i64 |
/// 43 producerId i64 | 51 producerEpoch i16 | 53 baseSequence i32 | 57 recordCount i32 | 61 records…
/// ```
/// The CRC covers bytes 21 to the end, so the broker can assign `baseOffset` and
/// `partitionLeaderEpoch` without recomputing it.
public struct RecordBatchHeader: Sendable, Hashable {
    /// Size of the fixed header in bytes.
    public static let size = 61
    /// Bytes before `batchLength`'s payload starts (baseOffset + batchLength).
    public static let logOverhead = 12
    /// The only magic value this format has.
    public static let currentMagic: Int8 = 2

    /// Byte offsets of the header fields.
    public enum Offset {
        public static let baseOffset = 0
        public static let batchLength = 8
        public static let partitionLeaderEpoch = 12
        public static let magic = 16
        public static let crc = 17
        public static let attributes = 21
        public static let lastOffsetDelta = 23
        public static let baseTimestamp = 27
        public static let maxTimestamp = 35
        public static let producerId = 43
        public static let producerEpoch = 51
        public static let baseSequence = 53
        public static let recordCount = 57
    }

    public var baseOffset: Int64
    public var batchLength: Int32
    public var partitionLeaderEpoch: Int32
    public var magic: Int8
    public var crc: UInt32
    public var attributes: Int16
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var recordCount: Int32

    /// Total bytes of the batch, header included.
    @inlinable public var totalSize: Int { Int(batchLength) + Self.logOverhead }
    /// Offset of the last record in the batch.
    @inlinable public var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }
    /// The compression codec in the attributes.
    public var compression: CompressionCodec? { CompressionCodec(rawValue: Int8(attributes & 0x7)) }
    /// True when records carry LogAppendTime rather than CreateTime.
    public var isLogAppendTime: Bool { attributes & 0x8 != 0 }
    /// True when the batch belongs to a transaction.
    public var isTransactional: Bool { attributes & 0x10 != 0 }
    /// True when the batch holds control records.
    public var isControl: Bool { attributes & 0x20 != 0 }

    /// Reads the header at `offset` in `buffer`; nil when fewer than 61 bytes remain there.
    /// Does not validate: see ``RecordBatchValidator``.
    public init?(_ buffer: UnsafeRawBufferPointer, at offset: Int = 0) {
        guard offset >= 0, buffer.count - offset >= Self.size else { return nil }
        func u16(_ o: Int) -> UInt16 { BigEndian.uint16(at: offset + o, in: buffer) }
        func u32(_ o: Int) -> UInt32 { BigEndian.uint32(at: offset + o, in: buffer) }
        func u64(_ o: Int) -> UInt64 { BigEndian.uint64(at: offset + o, in: buffer) }
        baseOffset = Int64(bitPattern: u64(Offset.baseOffset))
        batchLength = Int32(bitPattern: u32(Offset.batchLength))
        partitionLeaderEpoch = Int32(bitPattern: u32(Offset.partitionLeaderEpoch))
        magic = Int8(bitPattern: buffer[offset + Offset.magic])
        crc = u32(Offset.crc)
        attributes = Int16(bitPattern: u16(Offset.attributes))
        lastOffsetDelta = Int32(bitPattern: u32(Offset.lastOffsetDelta))
        baseTimestamp = Int64(bitPattern: u64(Offset.baseTimestamp))
        maxTimestamp = Int64(bitPattern: u64(Offset.maxTimestamp))
        producerId = Int64(bitPattern: u64(Offset.producerId))
        producerEpoch = Int16(bitPattern: u16(Offset.producerEpoch))
        baseSequence = Int32(bitPattern: u32(Offset.baseSequence))
        recordCount = Int32(bitPattern: u32(Offset.recordCount))
    }

    /// Reads the header at `offset` in `bytes`; nil when fewer than 61 bytes remain there.
    public init?(_ bytes: [UInt8], at offset: Int = 0) {
        guard let header = bytes.withUnsafeBytes({ RecordBatchHeader($0, at: offset) }) else { return nil }
        self = header
    }

    /// Writes `baseOffset` and `partitionLeaderEpoch` into the batch at `offset` (both lie outside
    /// the CRC, so the batch stays valid).
    public static func assign(
        baseOffset: Int64, partitionLeaderEpoch: Int32, in buffer: UnsafeMutableRawBufferPointer, at offset: Int
    ) {
        precondition(offset >= 0 && buffer.count - offset >= size, "batch header outside the buffer")
        BigEndian.store(UInt64(bitPattern: baseOffset), at: offset + Offset.baseOffset, in: buffer)
        BigEndian.store(UInt32(bitPattern: partitionLeaderEpoch), at: offset + Offset.partitionLeaderEpoch, in: buffer)
    }

    /// Writes an idempotent producer's `producerId`, `producerEpoch` and `baseSequence` into the
    /// complete batch at `offset` and recomputes its CRC (those fields lie inside it): how a
    /// producer stamps a batch that was closed before its producer id was known. One CRC pass
    /// over the batch, no allocation.
    public static func assignProducer(
        producerId: Int64, producerEpoch: Int16, baseSequence: Int32, in buffer: UnsafeMutableRawBufferPointer,
        at offset: Int
    ) {
        precondition(offset >= 0 && buffer.count - offset >= size, "batch header outside the buffer")
        let length = Int(Int32(bitPattern: BigEndian.uint32(at: offset + Offset.batchLength, in: UnsafeRawBufferPointer(buffer))))
        let end = offset + logOverhead + length
        precondition(length >= size - logOverhead && end <= buffer.count, "batch outside the buffer")
        BigEndian.store(UInt64(bitPattern: producerId), at: offset + Offset.producerId, in: buffer)
        let epoch = UInt16(bitPattern: producerEpoch)
        buffer[offset + Offset.producerEpoch] = UInt8(truncatingIfNeeded: epoch >> 8)
        buffer[offset + Offset.producerEpoch + 1] = UInt8(truncatingIfNeeded: epoch)
        BigEndian.store(UInt32(bitPattern: baseSequence), at: offset + Offset.baseSequence, in: buffer)
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[(offset + Offset.attributes)..<end]))
        BigEndian.store(crc, at: offset + Offset.crc, in: buffer)
    }
}

/// Compression codecs of the record-batch attributes (bits 0–2).
public enum CompressionCodec: Int8, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4

    public var description: String {
        switch self {
        case .none: "none"
        case .gzip: "gzip"
        case .snappy: "snappy"
        case .lz4: "lz4"
        case .zstd: "zstd"
        }
    }
}
