import TernWire

/// Real encodings the seed corpora start from.
enum SeedData {
    /// A record batch of `count` records with keys, values, a tombstone and headers.
    static func batch(count: Int, compression: CompressionCodec = .none, baseTimestamp: Int64 = 1_700_000_000_000)
        -> [UInt8]
    {
        var builder = RecordBatchBuilder(baseTimestamp: baseTimestamp, producerId: 4, producerEpoch: 0, baseSequence: 0)
        for i in 0..<count {
            builder.append(
                key: Array("key-\(i)".utf8), value: i == 2 ? nil : Array("value \(i)".utf8),
                headers: i == 1
                    ? [RecordHeader(key: "trace", value: [1, 2, 3]), RecordHeader(key: "n", value: nil)] : [],
                timestamp: baseTimestamp + Int64(i * 5))
        }
        return builder.finish(compression: compression)
    }

    /// Rewrites the CRC of every batch whose length fits in `bytes`, so that mutated inputs get
    /// past the checksum and exercise the record framing behind it.
    static func fixChecksums(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { raw in
            var position = 0
            while let header = RecordBatchHeader(UnsafeRawBufferPointer(raw), at: position),
                header.batchLength >= Int32(RecordBatchHeader.size - RecordBatchHeader.logOverhead),
                header.totalSize <= raw.count - position
            {
                let start = position + RecordBatchHeader.Offset.attributes
                let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[start..<position + header.totalSize]))
                BigEndian.store(crc, at: position + RecordBatchHeader.Offset.crc, in: raw)
                position += header.totalSize
            }
        }
    }
}
