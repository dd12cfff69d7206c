/// Appends big-endian integers, varints, strings and byte arrays to a growing byte array.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Creates an empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Number of bytes written.
    @inlinable public var count: Int { bytes.count }

    /// Reserves room for `additional` more bytes.
    public mutating func reserve(_ additional: Int) { bytes.reserveCapacity(bytes.count + additional) }

    /// Appends one byte.
    public mutating func write(_ value: UInt8) { bytes.append(value) }
    /// Appends a signed byte.
    public mutating func write(_ value: Int8) { bytes.append(UInt8(bitPattern: value)) }
    /// Appends a boolean as one byte (1 or 0).
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Appends a big-endian u16.
    public mutating func write(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }
    /// Appends a big-endian i16.
    public mutating func write(_ value: Int16) { write(UInt16(bitPattern: value)) }

    /// Appends a big-endian u32.
    public mutating func write(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
    /// Appends a big-endian i32.
    public mutating func write(_ value: Int32) { write(UInt32(bitPattern: value)) }

    /// Appends a big-endian u64.
    public mutating func write(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
    /// Appends a big-endian i64.
    public mutating func write(_ value: Int64) { write(UInt64(bitPattern: value)) }

    /// Appends an unsigned LEB128 integer.
    public mutating func writeUnsignedVarint(_ value: UInt64) {
        if value < 0x80 { return bytes.append(UInt8(truncatingIfNeeded: value)) }
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    /// Appends a zig-zag varint.
    public mutating func writeVarint(_ value: Int32) { writeUnsignedVarint(UInt64(ZigZag.encode32(value))) }
    /// Appends a zig-zag varlong.
    public mutating func writeVarlong(_ value: Int64) { writeUnsignedVarint(ZigZag.encode64(value)) }

    /// Appends raw bytes.
    public mutating func write<C: Collection>(contentsOf data: C) where C.Element == UInt8 {
        bytes.append(contentsOf: data)
    }
    /// Appends raw bytes from memory.
    public mutating func write(contentsOf data: UnsafeRawBufferPointer) { bytes.append(contentsOf: data) }

    /// Appends a `str16`. Strings longer than 65,534 UTF-8 bytes are a programmer error.
    public mutating func writeString(_ value: String) {
        let utf8 = value.utf8
        precondition(utf8.count < 0xFFFF, "string too long for str16")
        write(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    /// Appends a nullable `str16` (null is length 0xFFFF).
    public mutating func writeNullableString(_ value: String?) {
        guard let value else { return write(UInt16(0xFFFF)) }
        writeString(value)
    }
    /// Appends a nullable `bytes32` (null is length -1).
    public mutating func writeNullableBytes(_ value: [UInt8]?) {
        guard let value else { return write(Int32(-1)) }
        write(Int32(value.count))
        bytes.append(contentsOf: value)
    }
    /// Appends an array: its u32 count, then each element written by `element`.
    public mutating func writeArray<T>(_ values: [T], _ element: (inout ByteWriter, T) -> Void) {
        write(UInt32(values.count))
        for value in values { element(&self, value) }
    }

    /// Overwrites 4 bytes at `offset` with a big-endian u32 (used to patch lengths written later).
    public mutating func patch(_ value: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset + 4 <= bytes.count, "patch outside the written bytes")
        bytes.withUnsafeMutableBytes { BigEndian.store(value, at: offset, in: $0) }
    }
    /// Overwrites 8 bytes at `offset` with a big-endian u64.
    public mutating func patch(_ value: UInt64, at offset: Int) {
        precondition(offset >= 0 && offset + 8 <= bytes.count, "patch outside the written bytes")
        bytes.withUnsafeMutableBytes { BigEndian.store(value, at: offset, in: $0) }
    }

    /// Takes the written bytes, leaving the writer empty.
    public mutating func take() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }
}
