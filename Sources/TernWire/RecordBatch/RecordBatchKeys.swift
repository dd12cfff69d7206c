/// The key shared by every record of a record set, for a key condition (Produce v1): the
/// condition names one key's history, so a batch that mixes keys (or has a record without one)
/// cannot be checked against it.
public enum RecordBatchKeys {
    /// The key every record in `batches` (validated batches of `buffer`) carries.
    ///
    /// Walks the records without allocating per record (keys are compared in place); a gzip
    /// batch is inflated once more (it was inflated and dropped by validation).
    /// - Throws: ``WireError`` `.malformed` naming the first record whose key is missing or
    ///   differs from the first record's; what inflating or walking a batch throws.
    public static func commonKey(_ buffer: UnsafeRawBufferPointer, batches: [ValidatedBatch]) throws -> [UInt8] {
        var first: [UInt8]?
        for (index, batch) in batches.enumerated() {
            let header = batch.header
            let start = batch.position + RecordBatchHeader.size
            let end = batch.position + header.totalSize
            guard start <= end, end <= buffer.count else {
                throw WireError(.malformed, "batch \(index): outside the record set")
            }
            switch header.compression {
            case .some(.none):
                try compare(buffer, from: start, to: end, header: header, batch: index, first: &first)
            case .some(.gzip):
                let plain = try Gzip.decompress(
                    UnsafeRawBufferPointer(rebasing: buffer[start..<end]),
                    limit: RecordBatchValidator.maxDecompressedBytes)
                try plain.withUnsafeBytes { raw in
                    try compare(raw, from: 0, to: raw.count, header: header, batch: index, first: &first)
                }
            default:
                throw WireError(.unsupportedCompression, "batch \(index): unsupported compression")
            }
        }
        guard let first else { throw WireError(.malformed, "no records") }
        return first
    }

    private static func compare(
        _ buffer: UnsafeRawBufferPointer, from start: Int, to end: Int, header: RecordBatchHeader, batch: Int,
        first: inout [UInt8]?
    ) throws {
        try RecordIterator.forEach(in: buffer, from: start, to: end, recordCount: header.recordCount) { record in
            guard let key = record.key else {
                throw WireError(
                    .malformed, "batch \(batch) record \(record.offsetDelta) has no key; a key condition needs one key")
            }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[key])
            if let known = first {
                guard known.elementsEqual(bytes) else {
                    throw WireError(
                        .malformed,
                        "batch \(batch) record \(record.offsetDelta) has another key than the first record; "
                            + "a key condition needs every record to carry the same key")
                }
            } else {
                first = Array(bytes)
            }
        }
    }
}
