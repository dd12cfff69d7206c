/// Reads big-endian integers, varints, strings and byte arrays from a byte array, checking every
/// length before it reads.
///
/// Every read that would run past the end throws ``WireError`` with code `.truncated`; counts and
/// lengths that cannot fit in what remains throw `.malformed` before anything is allocated.
public struct ByteReader: Sendable {
    /// The underlying bytes.
    public let bytes: [UInt8]
    /// Index of the next byte to read.
    public private(set) var position: Int
    /// One past the last readable index.
    public let end: Int

    /// Creates a reader over `bytes[range]` (all of `bytes` by default).
    public init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        let range = range ?? 0..<bytes.count
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "range outside the buffer")
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    /// Bytes left to read.
    @inlinable public var remaining: Int { end - position }
    /// True when everything has been read.
    @inlinable public var isAtEnd: Bool { position >= end }

    @inline(__always)
    private func need(_ count: Int, _ what: String) throws {
        guard count <= end - position else { throw WireError.truncated(what, need: count, have: end - position) }
    }

    /// Reads one byte.
    public mutating func readUInt8(_ what: String = "u8") throws -> UInt8 {
        try need(1, what)
        defer { position += 1 }
        return bytes[position]
    }

    /// Reads a signed byte.
    public mutating func readInt8(_ what: String = "i8") throws -> Int8 {
        Int8(bitPattern: try readUInt8(what))
    }

    /// Reads a boolean byte (0 is false, anything else true).
    public mutating func readBool(_ what: String = "bool") throws -> Bool {
        try readUInt8(what) != 0
    }

    /// Reads a big-endian unsigned 16-bit integer.
    public mutating func readUInt16(_ what: String = "u16") throws -> UInt16 {
        try need(2, what)
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    /// Reads a big-endian signed 16-bit integer.
    public mutating func readInt16(_ what: String = "i16") throws -> Int16 {
        Int16(bitPattern: try readUInt16(what))
    }

    /// Reads a big-endian unsigned 32-bit integer.
    public mutating func readUInt32(_ what: String = "u32") throws -> UInt32 {
        try need(4, what)
        defer { position += 4 }
        return bytes.withUnsafeBytes { BigEndian.uint32(at: position, in: $0) }
    }

    /// Reads a big-endian signed 32-bit integer.
    public mutating func readInt32(_ what: String = "i32") throws -> Int32 {
        Int32(bitPattern: try readUInt32(what))
    }

    /// Reads a big-endian signed 64-bit integer.
    public mutating func readInt64(_ what: String = "i64") throws -> Int64 {
        try need(8, what)
        defer { position += 8 }
        return Int64(bitPattern: bytes.withUnsafeBytes { BigEndian.uint64(at: position, in: $0) })
    }

    /// Reads a zig-zag encoded variable-length 32-bit integer (protobuf/Kafka `varint`).
    public mutating func readVarint(_ what: String = "varint") throws -> Int32 {
        let raw = try readUnsignedVarint(what, maxBytes: 5)
        guard raw <= UInt64(UInt32.max) else { throw WireError(.malformed, "\(what): varint exceeds 32 bits") }
        return ZigZag.decode32(UInt32(truncatingIfNeeded: raw))
    }

    /// Reads a zig-zag encoded variable-length 64-bit integer (`varlong`).
    public mutating func readVarlong(_ what: String = "varlong") throws -> Int64 {
        ZigZag.decode64(try readUnsignedVarint(what, maxBytes: 10))
    }

    /// Reads an unsigned LEB128 integer of at most `maxBytes` bytes.
    public mutating func readUnsignedVarint(_ what: String = "uvarint", maxBytes: Int = 10) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        for _ in 0..<maxBytes {
            guard position < end else { throw WireError.truncated(what, need: 1, have: 0) }
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        throw WireError(.malformed, "\(what): varint longer than \(maxBytes) bytes")
    }

    /// Reads `count` bytes into a new array.
    public mutating func readBytes(count: Int, _ what: String = "bytes") throws -> [UInt8] {
        guard count >= 0 else { throw WireError(.malformed, "\(what): negative length \(count)") }
        try need(count, what)
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    /// Skips `count` bytes.
    public mutating func skip(_ count: Int, _ what: String = "bytes") throws {
        guard count >= 0 else { throw WireError(.malformed, "\(what): negative length \(count)") }
        try need(count, what)
        position += count
    }

    /// Returns the range of the next `count` bytes and advances past them, without copying.
    public mutating func readRange(count: Int, _ what: String = "bytes") throws -> Range<Int> {
        guard count >= 0 else { throw WireError(.malformed, "\(what): negative length \(count)") }
        try need(count, what)
        defer { position += count }
        return position..<position + count
    }

    /// Reads a `str16`: a u16 length then that many UTF-8 bytes. Length 0xFFFF is not allowed here.
    public mutating func readString(_ what: String = "string") throws -> String {
        guard let string = try readNullableString(what) else {
            throw WireError(.malformed, "\(what): null where a string is required")
        }
        return string
    }

    /// Reads a nullable `str16`: length 0xFFFF means null.
    public mutating func readNullableString(_ what: String = "string") throws -> String? {
        let length = try readUInt16(what)
        if length == 0xFFFF { return nil }
        let range = try readRange(count: Int(length), what)
        guard let string = String(validating: bytes[range], as: UTF8.self) else {
            throw WireError(.malformed, "\(what): not valid UTF-8")
        }
        return string
    }

    /// Reads a nullable `bytes32`: an i32 length (-1 = null) then that many bytes.
    public mutating func readNullableBytes(_ what: String = "bytes") throws -> [UInt8]? {
        let length = try readInt32(what)
        if length == -1 { return nil }
        guard length >= 0 else { throw WireError(.malformed, "\(what): negative length \(length)") }
        return try readBytes(count: Int(length), what)
    }

    /// Reads an array count (u32) and checks that `count × minElementSize` bytes could remain,
    /// so a hostile count cannot make the caller reserve memory it will never fill.
    public mutating func readArrayCount(_ what: String = "array", minElementSize: Int = 1) throws -> Int {
        let count = Int(try readUInt32(what))
        guard count <= remaining / max(minElementSize, 1) else {
            throw WireError(.malformed, "\(what): count \(count) cannot fit in \(remaining) remaining bytes")
        }
        return count
    }

    /// Reads an array: a u32 count, then `count` elements decoded by `element`.
    public mutating func readArray<T>(
        _ what: String = "array", minElementSize: Int = 1, _ element: (inout ByteReader) throws -> T
    ) throws -> [T] {
        let count = try readArrayCount(what, minElementSize: minElementSize)
        var result: [T] = []
        result.reserveCapacity(min(count, 1024))  // a lying count cannot make us reserve much
        for _ in 0..<count { result.append(try element(&self)) }
        return result
    }
}

/// Big-endian loads from raw memory at arbitrary (unaligned) offsets.
public enum BigEndian {
    /// Loads a big-endian u16 at `offset`. The caller has checked the bounds.
    @inlinable @inline(__always)
    public static func uint16(at offset: Int, in buffer: UnsafeRawBufferPointer) -> UInt16 {
        UInt16(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    /// Loads a big-endian u32 at `offset`. The caller has checked the bounds.
    @inlinable @inline(__always)
    public static func uint32(at offset: Int, in buffer: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    /// Loads a big-endian u64 at `offset`. The caller has checked the bounds.
    @inlinable @inline(__always)
    public static func uint64(at offset: Int, in buffer: UnsafeRawBufferPointer) -> UInt64 {
        UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    /// Stores a big-endian u32 at `offset`. The caller has checked the bounds.
    @inlinable @inline(__always)
    public static func store(_ value: UInt32, at offset: Int, in buffer: UnsafeMutableRawBufferPointer) {
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }
    /// Stores a big-endian u64 at `offset`. The caller has checked the bounds.
    @inlinable @inline(__always)
    public static func store(_ value: UInt64, at offset: Int, in buffer: UnsafeMutableRawBufferPointer) {
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self)
    }
}
