/// Zig-zag mapping of signed integers onto unsigned ones, as protobuf and Kafka varints use it.
public enum ZigZag {
    /// Maps a signed 32-bit value to its zig-zag form.
    @inlinable public static func encode32(_ value: Int32) -> UInt32 {
        UInt32(bitPattern: (value << 1) ^ (value >> 31))
    }
    /// Maps a zig-zag value back to signed.
    @inlinable public static func decode32(_ value: UInt32) -> Int32 {
        Int32(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }
    /// Maps a signed 64-bit value to its zig-zag form.
    @inlinable public static func encode64(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }
    /// Maps a zig-zag value back to signed.
    @inlinable public static func decode64(_ value: UInt64) -> Int64 {
        Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }
    /// Number of bytes the unsigned LEB128 form of `value` takes.
    @inlinable public static func unsignedVarintSize(_ value: UInt64) -> Int {
        var v = value
        var n = 1
        while v >= 0x80 {
            v >>= 7
            n += 1
        }
        return n
    }
    /// Number of bytes the zig-zag varint form of `value` takes.
    @inlinable public static func varintSize(_ value: Int32) -> Int { unsignedVarintSize(UInt64(encode32(value))) }
    /// Number of bytes the zig-zag varlong form of `value` takes.
    @inlinable public static func varlongSize(_ value: Int64) -> Int { unsignedVarintSize(encode64(value)) }
}
