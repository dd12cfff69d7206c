import CTernCRC32C

/// CRC-32C (Castagnoli), the checksum of record batches.
///
/// Uses the CPU's CRC32 instruction where it has one (SSE4.2 on x86-64, through a tiny C shim)
/// and a portable slicing-by-8 implementation elsewhere: eight table lookups per 8 bytes.
public enum CRC32C {
    /// True when checksums are computed by the CPU's CRC32 instruction.
    public static let usesHardware = tern_crc32c_hardware_available() == 1
    /// 8 tables of 256 entries, flattened: `tables[k * 256 + b]`.
    private static let tables: [UInt32] = {
        let polynomial: UInt32 = 0x82F6_3B78
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var crc = UInt32(i)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
            t[i] = crc
        }
        for i in 0..<256 {
            for k in 1..<8 {
                let previous = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (previous >> 8) ^ t[Int(previous & 0xFF)]
            }
        }
        return t
    }()

    /// The CRC-32C of `buffer`.
    public static func checksum(_ buffer: UnsafeRawBufferPointer) -> UInt32 {
        update(0, buffer)
    }

    /// The CRC-32C of `bytes[range]`.
    public static func checksum(_ bytes: [UInt8], range: Range<Int>) -> UInt32 {
        bytes.withUnsafeBytes { update(0, UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// Continues a CRC-32C over more bytes; start with 0.
    public static func update(_ crc: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        guard usesHardware, let base = buffer.baseAddress else { return softwareUpdate(crc, buffer) }
        return ~tern_crc32c_hardware_update(~crc, base.assumingMemoryBound(to: UInt8.self), buffer.count)
    }

    /// The portable implementation (also the reference the hardware path is tested against).
    public static func softwareUpdate(_ crc: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        var c = ~crc
        let count = buffer.count
        guard count > 0, let base = buffer.baseAddress else { return crc }
        var i = 0
        tables.withUnsafeBufferPointer { t in
            while count - i >= 8 {
                let lo = UInt32(littleEndian: (base + i).loadUnaligned(as: UInt32.self)) ^ c
                let hi = UInt32(littleEndian: (base + i + 4).loadUnaligned(as: UInt32.self))
                c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < count {
                c = t[Int((c ^ UInt32(base.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        return ~c
    }
}
