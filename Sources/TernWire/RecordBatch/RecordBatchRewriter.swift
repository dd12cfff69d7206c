/// Builds a batch from some of the records of an existing one, as log compaction needs: the
/// original header is kept (base offset, last offset delta, base timestamp, producer fields,
/// attributes and so the codec), so each kept record keeps its offset and timestamp, and its
/// bytes are copied unchanged (headers included). Only the record count, the length, the largest
/// timestamp and the CRC are recomputed.
public enum RecordBatchRewriter {
    /// Appends the new batch to `output`.
    /// - Parameters:
    ///   - original: the header of the batch the records came from.
    ///   - records: the kept records' bytes, concatenated and uncompressed.
    ///   - recordCount: how many records `records` holds (at least one).
    ///   - maxTimestamp: the largest timestamp among them (ignored for LogAppendTime batches,
    ///     whose timestamp is the batch's).
    ///   - output: where the batch is appended.
    /// - Throws: `unsupportedCompression` for a codec other than none and gzip.
    public static func append(
        original: RecordBatchHeader, records: UnsafeRawBufferPointer, recordCount: Int32, maxTimestamp: Int64,
        to output: inout [UInt8]
    ) throws(WireError) {
        precondition(recordCount > 0, "a batch needs at least one record")
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: RecordBatchHeader.size))
        switch original.compression {
        case .some(.none): output.append(contentsOf: records)
        case .some(.gzip): output.append(contentsOf: Gzip.compress(records))
        default:
            output.removeLast(RecordBatchHeader.size)
            let codec = original.compression.map(\.description) ?? "code \(original.attributes & 7)"
            throw WireError(.unsupportedCompression, "cannot rewrite a batch compressed with \(codec)")
        }
        let total = output.count - start
        output.withUnsafeMutableBytes { raw in
            typealias O = RecordBatchHeader.Offset
            func put16(_ value: Int16, _ offset: Int) {
                raw[start + offset] = UInt8(truncatingIfNeeded: UInt16(bitPattern: value) >> 8)
                raw[start + offset + 1] = UInt8(truncatingIfNeeded: UInt16(bitPattern: value))
            }
            func put32(_ value: Int32, _ offset: Int) {
                BigEndian.store(UInt32(bitPattern: value), at: start + offset, in: raw)
            }
            func put64(_ value: Int64, _ offset: Int) {
                BigEndian.store(UInt64(bitPattern: value), at: start + offset, in: raw)
            }
            put64(original.baseOffset, O.baseOffset)
            put32(Int32(total - RecordBatchHeader.logOverhead), O.batchLength)
            put32(original.partitionLeaderEpoch, O.partitionLeaderEpoch)
            raw[start + O.magic] = UInt8(bitPattern: RecordBatchHeader.currentMagic)
            put16(original.attributes, O.attributes)
            put32(original.lastOffsetDelta, O.lastOffsetDelta)
            put64(original.baseTimestamp, O.baseTimestamp)
            put64(original.isLogAppendTime ? original.maxTimestamp : maxTimestamp, O.maxTimestamp)
            put64(original.producerId, O.producerId)
            put16(original.producerEpoch, O.producerEpoch)
            put32(original.baseSequence, O.baseSequence)
            put32(recordCount, O.recordCount)
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(start + O.attributes)..<(start + total)]))
            BigEndian.store(crc, at: start + O.crc, in: raw)
        }
    }
}
