/// Decodes the records of fetched batches for applications.
///
/// Fetch responses may end with a partial batch (the broker sends whole batches up to a byte
/// limit, and a limit can cut the last one): `decode` stops there without error. Every complete
/// batch's CRC is checked; a mismatch throws.
public enum RecordBatchDecoder {
    /// Decodes every record in the complete batches of `bytes[range]` whose offset is at least
    /// `minOffset`, appending them to `records`. Returns the number of bytes consumed (whole batches).
    @discardableResult
    public static func decode(
        _ bytes: [UInt8], range: Range<Int>? = nil, minOffset: Int64 = 0, into records: inout [Record]
    ) throws -> Int {
        let range = range ?? 0..<bytes.count
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
                        try decodeRecords(buffer, from: start, to: end, header: header, minOffset: minOffset, into: &records)
                    case .some(.gzip):
                        let plain = try Gzip.decompress(
                            UnsafeRawBufferPointer(rebasing: buffer[start..<end]),
                            limit: RecordBatchValidator.maxDecompressedBytes)
                        var failure: WireError?
                        plain.withUnsafeBytes { raw in
                            do {
                                try decodeRecords(
                                    raw, from: 0, to: raw.count, header: header, minOffset: minOffset, into: &records)
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
        into records: inout [Record]
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
            let key = try r.skipLengthPrefixed("key", nullable: true).map { Array(buffer[$0]) }
            let value = try r.skipLengthPrefixed("value", nullable: true).map { Array(buffer[$0]) }
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
            records.append(Record(offset: offset, timestamp: timestamp, key: key, value: value, headers: headers))
        }
    }
}
