/// One record inside a batch's (uncompressed) record bytes, described by ranges into the buffer
/// it was found in: nothing is copied, so a caller can keep or drop records without decoding them.
public struct RecordView: Sendable {
    /// The whole record, its length varint included: copying these bytes into another batch with
    /// the same base offset and base timestamp reproduces the record exactly.
    public var bytes: Range<Int>
    /// The record's offset relative to its batch's base offset.
    public var offsetDelta: Int32
    /// The record's timestamp relative to its batch's base timestamp.
    public var timestampDelta: Int64
    /// The key's bytes; nil for a record without a key.
    public var key: Range<Int>?
    /// True when the value is null (a tombstone in a compacted topic).
    public var valueIsNull: Bool
}

/// Walks the records of a batch without allocating per record.
public enum RecordIterator {
    /// Calls `body` for each of the `recordCount` records in `buffer[start..<end]` (the record
    /// bytes of a batch, already decompressed), in order.
    /// - Throws: ``WireError`` for a record whose framing is broken, or when bytes are left after
    ///   the last record; whatever `body` throws.
    public static func forEach(
        in buffer: UnsafeRawBufferPointer, from start: Int, to end: Int, recordCount: Int32,
        _ body: (RecordView) throws -> Void
    ) throws {
        guard start >= 0, start <= end, end <= buffer.count else {
            throw WireError(.malformed, "record range \(start)..<\(end) is outside the \(buffer.count) bytes given")
        }
        var cursor = RawCursor(buffer, from: start, to: end)
        var index: Int32 = 0
        while index < recordCount {
            let recordStart = cursor.position
            let length = try cursor.readVarint("record length")
            guard length > 0, Int(length) <= cursor.remaining else {
                throw WireError(.malformed, "record \(index): length \(length) with \(cursor.remaining) bytes left")
            }
            let recordEnd = cursor.position + Int(length)
            var record = RawCursor(buffer, from: cursor.position, to: recordEnd)
            _ = try record.readInt8("record attributes")
            let timestampDelta = try record.readVarlong("timestampDelta")
            let offsetDelta = try record.readVarint("offsetDelta")
            guard offsetDelta >= 0 else { throw WireError(.malformed, "record \(index): negative offsetDelta") }
            let key = try record.skipLengthPrefixed("key", nullable: true)
            let value = try record.skipLengthPrefixed("value", nullable: true)
            cursor.position = recordEnd
            try body(
                RecordView(
                    bytes: recordStart..<recordEnd, offsetDelta: offsetDelta, timestampDelta: timestampDelta, key: key,
                    valueIsNull: value == nil))
            index += 1
        }
        guard cursor.position == end else {
            throw WireError(.malformed, "\(end - cursor.position) bytes left after \(recordCount) records")
        }
    }
}
