/// A bounds-checked cursor over raw memory for hot decoding loops (record walking), where a
/// `[UInt8]`-backed ``ByteReader`` would cost retain/release traffic. Throws on every overrun.
@usableFromInline
struct RawCursor {
    @usableFromInline let buffer: UnsafeRawBufferPointer
    @usableFromInline var position: Int
    @usableFromInline let end: Int

    @inlinable
    init(_ buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) {
        precondition(start >= 0 && start <= end && end <= buffer.count, "cursor range outside buffer")
        self.buffer = buffer
        self.position = start
        self.end = end
    }

    @inlinable var remaining: Int { end - position }

    @inlinable
    mutating func readInt8(_ what: StaticString) throws(WireError) -> Int8 {
        guard position < end else { throw WireError(.truncated, "\(what): input ended") }
        defer { position += 1 }
        return Int8(bitPattern: buffer[position])
    }

    /// Almost every varint in a record (lengths and deltas below 8,192) is one or two bytes: those
    /// are decoded inline in the caller; longer ones take the loop.
    @inlinable @inline(__always)
    mutating func readUnsignedVarint(_ what: StaticString, maxBytes: Int) throws(WireError) -> UInt64 {
        if end - position >= 2 {
            let first = buffer[position]
            if first < 0x80 {
                position += 1
                return UInt64(first)
            }
            let second = buffer[position + 1]
            if second < 0x80 {
                position += 2
                return UInt64(first & 0x7F) | UInt64(second) << 7
            }
        }
        return try readMultiByteVarint(what, maxBytes: maxBytes)
    }

    @usableFromInline
    mutating func readMultiByteVarint(_ what: StaticString, maxBytes: Int) throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var n = 0
        while n < maxBytes {
            guard position < end else { throw WireError(.truncated, "\(what): input ended inside a varint") }
            let byte = buffer[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            n += 1
        }
        throw WireError(.malformed, "\(what): varint longer than \(maxBytes) bytes")
    }

    @inlinable
    mutating func readVarint(_ what: StaticString) throws(WireError) -> Int32 {
        let raw = try readUnsignedVarint(what, maxBytes: 5)
        guard raw <= UInt64(UInt32.max) else { throw WireError(.malformed, "\(what): varint exceeds 32 bits") }
        return ZigZag.decode32(UInt32(truncatingIfNeeded: raw))
    }

    @inlinable
    mutating func readVarlong(_ what: StaticString) throws(WireError) -> Int64 {
        ZigZag.decode64(try readUnsignedVarint(what, maxBytes: 10))
    }

    /// Reads a varint length (-1 allowed when `nullable`) and skips that many bytes; returns the
    /// range skipped, or nil for null.
    @inlinable
    mutating func skipLengthPrefixed(_ what: StaticString, nullable: Bool) throws(WireError) -> Range<Int>? {
        let length = try readVarint(what)
        if length == -1 && nullable { return nil }
        guard length >= 0 else { throw WireError(.malformed, "\(what): negative length \(length)") }
        guard Int(length) <= remaining else {
            throw WireError(.truncated, "\(what): length \(length) exceeds the \(remaining) bytes left in the record")
        }
        defer { position += Int(length) }
        return position..<position + Int(length)
    }
}
