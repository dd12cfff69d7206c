/// Decodes the records of fetched batches for applications.
///
/// Fetch responses may end with a partial batch (the broker sends whole batches up to a byte
/// limit, and a limit can cut the last one): `decode` stops there without error. Every complete
/// batch's CRC is checked; a mismatch throws.
public enum RecordBatchDecoder {
    /// Where one decoded record's fields lie in the bytes that hold its batch's records (the
    /// fetched bytes, or the decompressed records of a compressed batch).
    public struct RecordLayout: Sendable {
        /// Offset in the partition.
        public var offset: Int64
        /// Milliseconds since the epoch (CreateTime unless the batch says LogAppendTime).
        public var timestamp: Int64
        /// The key's bytes; nil for records without one.
        public var key: Range<Int>?
        /// The value's bytes; nil for tombstones.
        public var value: Range<Int>?
        /// Headers, in order (decoded: they are rare and small).
        public var headers: [RecordHeader]
    }

    /// Decodes every record in the complete batches of `bytes[range]` whose offset is at least
    /// `minOffset`, appending them to `records`. Returns the number of bytes consumed (whole batches).
    @discardableResult
    public static func decode(
        _ bytes: [UInt8], range: Range<Int>? = nil, minOffset: Int64 = 0, into records: inout [Record]
    ) throws -> Int {
        try forEachRecord(in: bytes, range: range, minOffset: minOffset) { storage, layout in
            records.append(
                Record(
                    offset: layout.offset, timestamp: layout.timestamp, key: layout.key.map { Array(storage[$0]) },
                    value: layout.value.map { Array(storage[$0]) }, headers: layout.headers))
        }
    }

    /// Calls `body` for every record in the complete batches of `bytes[range]` whose offset is at
    /// least `minOffset`, with the array holding the record's bytes and where its fields lie in
    /// it — so that a caller can keep keys and values as slices of one buffer instead of copying
    /// each (`storage` is `bytes` itself, or the decompressed records of a compressed batch).
    /// Returns the number of bytes consumed (whole batches).
    @discardableResult
    public static func forEachRecord(
        in bytes: [UInt8], range: Range<Int>? = nil, minOffset: Int64 = 0,
        _ body: (_ storage: [UInt8], _ layout: RecordLayout) -> Void
    ) throws -> Int {
        let range = range ?? 0..<bytes.count
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "range outside the buffer")
        return try bytes.withUnsafeBytes { raw -> Int in
            let buffer = UnsafeRawBufferPointer(rebasing: raw[range])
            var position = 0
            while buffer.count - position >= RecordBatchHeader.size {
                // A partial trailing batch: its length runs past the data. (A negative or too-small
                // length is not partial but corrupt; validateStored reports it.)
                guard let peek = RecordBatchHeader(buffer, at: position), peek.totalSize <= buffer.count - position
                else { break }
                let header = try RecordBatchValidator.validateStored(buffer, at: position)
                if !header.isControl && header.lastOffset >= minOffset {
                    let start = position + RecordBatchHeader.size
                    let end = position + header.totalSize
                    switch header.compression {
                    case .some(.none):
                        // Ranges are reported relative to `bytes`, whose first byte is `raw[0]`.
                        let base = range.lowerBound
                        try decodeRecords(raw, from: base + start, to: base + end, header: header, minOffset: minOffset) {
                            body(bytes, $0)
                        }
                    case .some(.gzip):
                        let plain = try Gzip.decompress(
                            UnsafeRawBufferPointer(rebasing: buffer[start..<end]),
                            limit: RecordBatchValidator.maxDecompressedBytes)
                        var failure: WireError?
                        plain.withUnsafeBytes { decompressed in
                            do {
                                try decodeRecords(
                                    decompressed, from: 0, to: decompressed.count, header: header, minOffset: minOffset
                                ) { body(plain, $0) }
                            } catch {
                                failure = error as? WireError ?? WireError(.malformed, "\(error)")
                            }
                        }
                        if let failure { throw failure }
                    default:
                        let codec = header.compression.map(\.description) ?? "code \(header.attributes & 7)"
                        throw WireError(
                            .unsupportedCompression, "batch at offset \(header.baseOffset) uses unsupported compression \(codec)")
                    }
                }
                position += header.totalSize
            }
            return position
        }
    }

    static func decodeRecords(
        _ buffer: UnsafeRawBufferPointer, from start: Int, to end: Int, header: RecordBatchHeader, minOffset: Int64,
        _ emit: (RecordLayout) -> Void
    ) throws(WireError) {
        var cursor = RawCursor(buffer, from: start, to: end)
        for _ in 0..<header.recordCount {
            let length = try cursor.readVarint("record length")
            guard length > 0, Int(length) <= cursor.remaining else {
                throw WireError(.malformed, "record length \(length) in batch at offset \(header.baseOffset)")
            }
            let end = cursor.position + Int(length)
            var r = RawCursor(buffer, from: cursor.position, to: end)
            _ = try r.readInt8("attributes")
            let timestampDelta = try r.readVarlong("timestampDelta")
            let offsetDelta = try r.readVarint("offsetDelta")
            let key = try r.skipLengthPrefixed("key", nullable: true)
            let value = try r.skipLengthPrefixed("value", nullable: true)
            let headerCount = try r.readVarint("headerCount")
            guard headerCount >= 0 else { throw WireError(.malformed, "negative header count") }
            var headers: [RecordHeader] = []
            if headerCount > 0 {
                headers.reserveCapacity(Int(min(headerCount, 64)))
                for _ in 0..<headerCount {
                    guard let keyRange = try r.skipLengthPrefixed("header key", nullable: false) else { break }
                    let headerValue = try r.skipLengthPrefixed("header value", nullable: true).map { Array(buffer[$0]) }
                    headers.append(
                        RecordHeader(key: String(decoding: buffer[keyRange], as: UTF8.self), value: headerValue))
                }
            }
            cursor.position = end
            let (offset, overflow) = header.baseOffset.addingReportingOverflow(Int64(offsetDelta))
            guard !overflow else {
                throw WireError(.malformed, "offsetDelta \(offsetDelta) overflows baseOffset \(header.baseOffset)")
            }
            guard offset >= minOffset else { continue }
            let timestamp = header.isLogAppendTime ? header.maxTimestamp : header.baseTimestamp &+ timestampDelta
            emit(RecordLayout(offset: offset, timestamp: timestamp, key: key, value: value, headers: headers))
        }
    }
}
