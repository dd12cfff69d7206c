import TernWire

/// The bytes of a producer-state snapshot, `<offset>.snapshot` in a partition directory (Kafka's
/// file of the same name; the layout is Tern's own): the ``ProducerStateTable`` of every batch
/// below `offset`. Recovery loads the newest valid one at or below the log end and replays the
/// batches from its offset on; a damaged file (bad CRC, short, trailing bytes) is ignored and the
/// state rebuilt from the log.
///
/// ```
/// u16 version (1) | u32 CRC-32C of everything after it | i64 offset | u32 producerCount |
///   per producer (ascending id): i64 producerId | i16 epoch | u8 batchCount (1-5) |
///     per batch (oldest first): i32 firstSequence | i32 lastSequence | i64 firstOffset |
///                               i64 lastOffset | i64 timestampMs
/// ```
public enum ProducerSnapshot {
    /// The only version this build writes and reads.
    public static let version: UInt16 = 1
    /// The file name suffix.
    public static let suffix = ".snapshot"

    /// Encodes `table` as of `offset`; equal tables give equal bytes (producers sorted).
    public static func encode(_ table: ProducerStateTable, offset: Int64) -> [UInt8] {
        var body = ByteWriter(capacity: 16 + table.count * 80)
        body.write(offset)
        body.write(UInt32(table.count))
        for (id, entry) in table.producers.sorted(by: { $0.key < $1.key }) {
            body.write(id)
            body.write(entry.epoch)
            body.write(UInt8(entry.batches.count))
            for batch in entry.batches {
                body.write(batch.firstSequence)
                body.write(batch.lastSequence)
                body.write(batch.firstOffset)
                body.write(batch.lastOffset)
                body.write(batch.timestampMs)
            }
        }
        let payload = body.take()
        var out = ByteWriter(capacity: payload.count + 6)
        out.write(version)
        out.write(CRC32C.checksum(payload, range: 0..<payload.count))
        out.write(contentsOf: payload)
        return out.take()
    }

    /// Decodes a snapshot file's bytes.
    /// - Throws: ``StorageError`` `corruptLog` naming what is wrong (version, CRC, a field, trailing bytes).
    public static func decode(_ bytes: [UInt8]) throws -> (table: ProducerStateTable, offset: Int64) {
        do {
            var reader = ByteReader(bytes)
            let version = try reader.readUInt16("version")
            guard version == Self.version else {
                throw StorageError(
                    .corruptLog, "producer snapshot version \(version); this build reads \(Self.version)")
            }
            let crc = try reader.readUInt32("crc")
            let start = bytes.count - reader.remaining
            guard CRC32C.checksum(bytes, range: start..<bytes.count) == crc else {
                throw StorageError(.corruptLog, "producer snapshot CRC does not match")
            }
            let offset = try reader.readInt64("offset")
            guard offset >= 0 else { throw StorageError(.corruptLog, "producer snapshot offset \(offset) is negative") }
            let count = try reader.readUInt32("producer count")
            // Each producer takes at least 11 + 32 bytes: a count past that cannot be true.
            guard Int(count) <= reader.remaining / 43 else {
                throw StorageError(
                    .corruptLog, "producer snapshot claims \(count) producers in \(reader.remaining) bytes")
            }
            var producers: [Int64: ProducerStateTable.Entry] = [:]
            producers.reserveCapacity(Int(count))
            for _ in 0..<count {
                let id = try reader.readInt64("producer id")
                let epoch = try reader.readInt16("epoch")
                let batchCount = Int(try reader.readUInt8("batch count"))
                guard id >= 0, epoch >= 0, (1...ProducerStateTable.batchesKept).contains(batchCount),
                    producers[id] == nil
                else {
                    throw StorageError(
                        .corruptLog, "producer snapshot entry \(id) (epoch \(epoch), \(batchCount) batches) is invalid")
                }
                var batches: [ProducerStateTable.BatchMetadata] = []
                batches.reserveCapacity(ProducerStateTable.batchesKept)
                for _ in 0..<batchCount {
                    let batch = ProducerStateTable.BatchMetadata(
                        firstSequence: try reader.readInt32("first sequence"),
                        lastSequence: try reader.readInt32("last sequence"),
                        firstOffset: try reader.readInt64("first offset"),
                        lastOffset: try reader.readInt64("last offset"), timestampMs: try reader.readInt64("timestamp"))
                    guard batch.firstSequence >= 0, batch.lastSequence >= 0, batch.firstOffset >= 0,
                        batch.lastOffset >= batch.firstOffset, batch.lastOffset < offset
                    else {
                        throw StorageError(.corruptLog, "producer snapshot batch of producer \(id) is invalid")
                    }
                    batches.append(batch)
                }
                producers[id] = ProducerStateTable.Entry(epoch: epoch, batches: batches)
            }
            guard reader.isAtEnd else {
                throw StorageError(.corruptLog, "producer snapshot has \(reader.remaining) trailing bytes")
            }
            return (ProducerStateTable(producers: producers), offset)
        } catch let error as WireError {
            throw StorageError(.corruptLog, "producer snapshot is truncated: \(error.message)")
        }
    }

    /// `<20-digit offset>.snapshot`.
    static func fileName(_ offset: Int64) -> String { Segment.fileName(offset, suffix) }
}
