/// A 128-bit identifier in the metadata log: a topic id or a broker incarnation id.
///
/// Kept as two integers rather than Foundation's `UUID` so TernWire stays Foundation-free; printed
/// as 32 lower-case hex digits.
public struct MetadataUUID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The first eight bytes, big-endian.
    public var high: UInt64
    /// The last eight bytes, big-endian.
    public var low: UInt64

    /// Creates an id from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A random id drawn from `generator` (callers under simulation pass a seeded one).
    public static func random(using generator: inout some RandomNumberGenerator) -> MetadataUUID {
        MetadataUUID(high: generator.next(), low: generator.next())
    }

    /// The all-zero id, never assigned (Kafka's `Uuid.ZERO_UUID` plays the same role).
    public static let zero = MetadataUUID(high: 0, low: 0)

    public static func < (lhs: MetadataUUID, rhs: MetadataUUID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    public var description: String {
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return hex(high) + hex(low)
    }
}

extension ByteReader {
    /// Reads a 16-byte ``MetadataUUID``.
    public mutating func readUUID(_ what: String = "uuid") throws -> MetadataUUID {
        let high = UInt64(bitPattern: try readInt64(what))
        let low = UInt64(bitPattern: try readInt64(what))
        return MetadataUUID(high: high, low: low)
    }

    /// Reads an array of big-endian i32 (a u32 count, then the values).
    public mutating func readInt32Array(_ what: String = "int32 array") throws -> [Int32] {
        try readArray(what, minElementSize: 4) { try $0.readInt32(what) }
    }
}

extension ByteWriter {
    /// Appends a 16-byte ``MetadataUUID``.
    public mutating func write(_ value: MetadataUUID) {
        write(value.high)
        write(value.low)
    }

    /// Appends an array of big-endian i32 (a u32 count, then the values).
    public mutating func writeInt32Array(_ values: [Int32]) {
        writeArray(values) { $0.write($1) }
    }
}
