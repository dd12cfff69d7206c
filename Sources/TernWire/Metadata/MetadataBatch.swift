/// The payload of one entry of the `__cluster_metadata` log: the records of one controller
/// decision, applied all or nothing (a decision's later records are computed against its earlier
/// ones, so a prefix of a batch is not a state any controller meant).
///
/// Encoding: `u32 count`, then `count` records back to back (each self-delimiting, see
/// ``MetadataRecord``). An empty payload is the control entry a new Raft leader appends and holds
/// no records.
public enum MetadataBatch {
    /// Smallest encoded record: its `u16 type` and `u16 version`.
    static let minimumRecordSize = 4

    /// Encodes `records` as one entry payload.
    public static func encode(_ records: [MetadataRecord]) -> [UInt8] {
        var writer = ByteWriter(capacity: 64 * max(records.count, 1))
        writer.write(UInt32(records.count))
        for record in records { writer.write(contentsOf: record.encoded()) }
        return writer.take()
    }

    /// Decodes one entry payload; an empty payload (a Raft control entry) holds no records.
    /// - Throws: ``WireError``: `.malformed` when the count cannot fit the bytes or bytes trail the
    ///   last record, or whatever ``MetadataRecord/decode(from:)`` throws for a bad record.
    public static func decode(_ bytes: [UInt8]) throws -> [MetadataRecord] {
        guard !bytes.isEmpty else { return [] }
        var reader = ByteReader(bytes)
        let count = Int(try reader.readUInt32("metadata batch record count"))
        // Checked before anything is reserved: a hostile count cannot make us allocate.
        guard count <= reader.remaining / minimumRecordSize else {
            throw WireError(.malformed, "metadata batch claims \(count) records in \(reader.remaining) bytes")
        }
        var records: [MetadataRecord] = []
        records.reserveCapacity(count)
        for _ in 0..<count { records.append(try MetadataRecord.decode(from: &reader)) }
        guard reader.isAtEnd else {
            throw WireError(.malformed, "metadata batch: \(reader.remaining) bytes after \(count) records")
        }
        return records
    }
}
