import TernWire

/// The cluster's id: 128 random bits written as 22 base64url characters without padding, the
/// form of Kafka's `Uuid.toString()` (`kafka-storage random-uuid`), e.g. `3Hh2Tq6sSU2b1DwnEJmQ9w`.
///
/// The first elected controller draws one and writes it as the first record of the metadata log
/// (``record(using:)``); every log directory then records it in its `meta.properties`.
public enum ClusterId {
    /// A fresh id from `generator` (a seeded one under simulation, `SystemRandomNumberGenerator`
    /// in the daemon). Like Kafka, never the zero id and never one starting with `-` (it would
    /// read as an option on a command line).
    public static func random(using generator: inout some RandomNumberGenerator) -> String {
        while true {
            let uuid = MetadataUUID.random(using: &generator)
            guard uuid != .zero else { continue }
            let text = encode(uuid)
            if !text.hasPrefix("-") { return text }
        }
    }

    /// The metadata record that carries a fresh cluster id.
    public static func record(using generator: inout some RandomNumberGenerator) -> MetadataRecord {
        .clusterId(random(using: &generator))
    }

    /// The 22-character base64url form of `uuid` (RFC 4648 §5, no padding).
    public static func encode(_ uuid: MetadataUUID) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for half in [uuid.high, uuid.low] {
            for shift in stride(from: 56, through: 0, by: -8) {
                bytes.append(UInt8(truncatingIfNeeded: half >> UInt64(shift)))
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(22)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var word: UInt32 = 0
            for (offset, byte) in chunk.enumerated() { word |= UInt32(byte) << UInt32(16 - 8 * offset) }
            let characters = chunk.count + 1  // 3 bytes → 4 characters, 1 byte → 2
            for position in 0..<characters {
                out.append(alphabet[Int((word >> UInt32(18 - 6 * position)) & 0x3F)])
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The id `text` encodes, or nil unless it is exactly 22 base64url characters in canonical
    /// form (the last character's unused low bits zero).
    public static func decode(_ text: String) -> MetadataUUID? {
        let characters = Array(text.utf8)
        guard characters.count == 22 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        var bitCount = 0
        for (position, character) in characters.enumerated() {
            guard let value = decodeTable[Int(character)] else { return nil }
            // 21 characters carry 126 bits; the 22nd carries the last 2 in its top bits.
            let bits = position == 21 ? 2 : 6
            if position == 21 && value & 0x0F != 0 { return nil }
            let chunk = position == 21 ? UInt64(value >> 4) : UInt64(value)
            for bit in stride(from: bits - 1, through: 0, by: -1) {
                let set = (chunk >> UInt64(bit)) & 1
                if bitCount < 64 { high = high << 1 | set } else { low = low << 1 | set }
                bitCount += 1
            }
        }
        return MetadataUUID(high: high, low: low)
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let decodeTable: [UInt8?] = {
        var table = [UInt8?](repeating: nil, count: 256)
        for (value, character) in alphabet.enumerated() { table[Int(character)] = UInt8(value) }
        return table
    }()
}
