/// A segment's key index: in memory while it can still change, or its sealed file.
enum SegmentKeyIndex: Sendable {
    case memory(MemoryKeyIndex)
    case file(KeyIndexFile)
}

/// The hash the key index stores for a key: the high half of the cleaner's 128-bit MurmurHash3,
/// cut to `bits` (64 outside tests). Answers never rest on it alone: each candidate record's key
/// is compared byte for byte.
enum KeyIndexHash {
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer, bits: Int) -> UInt64 {
        let full = KeyHash(key).high
        return bits >= 64 ? full : full & ((UInt64(1) << UInt64(bits)) &- 1)
    }

    static func hash(_ key: [UInt8], bits: Int) -> UInt64 {
        key.withUnsafeBytes { hash($0, bits: bits) }
    }
}
