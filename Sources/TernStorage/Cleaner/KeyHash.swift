/// A 128-bit hash of a record key (MurmurHash3 x64-128, seed 0): what the cleaner's offset map
/// stores instead of the key, as Kafka's cleaner stores an MD5. Two different keys share a hash
/// with probability about 2⁻¹²⁸ per pair, which is what lets the map hold 24 bytes per key.
struct KeyHash: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    private static let c1: UInt64 = 0x87c3_7b91_1142_53d5
    private static let c2: UInt64 = 0x4cf5_ad43_2745_937f

    @inline(__always)
    private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always)
    private static func fmix(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k = k &* 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k = k &* 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }

    /// Hashes `key`.
    init(_ key: UnsafeRawBufferPointer) {
        var h1: UInt64 = 0
        var h2: UInt64 = 0
        let length = key.count
        let blocks = length / 16
        for block in 0..<blocks {
            var k1 = UInt64(littleEndian: key.loadUnaligned(fromByteOffset: block * 16, as: UInt64.self))
            var k2 = UInt64(littleEndian: key.loadUnaligned(fromByteOffset: block * 16 + 8, as: UInt64.self))
            k1 = k1 &* Self.c1
            k1 = Self.rotl(k1, 31)
            k1 = k1 &* Self.c2
            h1 ^= k1
            h1 = Self.rotl(h1, 27)
            h1 = h1 &+ h2
            h1 = h1 &* 5 &+ 0x52dc_e729
            k2 = k2 &* Self.c2
            k2 = Self.rotl(k2, 33)
            k2 = k2 &* Self.c1
            h2 ^= k2
            h2 = Self.rotl(h2, 31)
            h2 = h2 &+ h1
            h2 = h2 &* 5 &+ 0x3849_5ab5
        }
        let tail = blocks * 16
        var k1: UInt64 = 0
        var k2: UInt64 = 0
        var i = length - tail
        while i > 8 {
            i -= 1
            k2 ^= UInt64(key[tail + i]) << (UInt64(i - 8) * 8)
        }
        if length - tail > 8 {
            k2 = k2 &* Self.c2
            k2 = Self.rotl(k2, 33)
            k2 = k2 &* Self.c1
            h2 ^= k2
        }
        while i > 0 {
            i -= 1
            k1 ^= UInt64(key[tail + i]) << (UInt64(i) * 8)
        }
        if length - tail > 0 {
            k1 = k1 &* Self.c1
            k1 = Self.rotl(k1, 31)
            k1 = k1 &* Self.c2
            h1 ^= k1
        }
        h1 ^= UInt64(length)
        h2 ^= UInt64(length)
        h1 = h1 &+ h2
        h2 = h2 &+ h1
        h1 = Self.fmix(h1)
        h2 = Self.fmix(h2)
        h1 = h1 &+ h2
        h2 = h2 &+ h1
        high = h1
        low = h2
    }

    init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { KeyHash($0) }
    }
}
