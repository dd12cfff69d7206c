import Glibc

/// Builds a size-prefixed frame around `payload`.
func framed(_ payload: [UInt8]) -> [UInt8] {
    let size = UInt32(payload.count)
    return [UInt8(size >> 24), UInt8((size >> 16) & 0xFF), UInt8((size >> 8) & 0xFF), UInt8(size & 0xFF)] + payload
}

/// A payload that encodes `index` (8 bytes big-endian) followed by `extra` filler bytes.
func indexedPayload(_ index: Int, extra: Int = 0) -> [UInt8] {
    var bytes = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(index) >> (56 - 8 * $0)) }
    bytes.append(contentsOf: (0..<extra).map { UInt8(truncatingIfNeeded: index &+ $0) })
    return bytes
}

/// The index encoded by ``indexedPayload(_:extra:)``.
func index<C: Collection>(of payload: C) -> Int where C.Element == UInt8 {
    Int(payload.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
}

/// `indexedPayload(index)` padded to `count` bytes with a byte derived from `index`; fast to
/// build in debug builds, for multi-MiB payloads.
func filledPayload(_ index: Int, count: Int) -> [UInt8] {
    indexedPayload(index) + [UInt8](repeating: UInt8(truncatingIfNeeded: index &* 31 &+ 7), count: max(count - 8, 0))
}

/// Whether two byte sequences are equal, compared with memcmp (element-wise `==` is slow on
/// multi-MiB arrays in debug builds).
func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    guard !a.isEmpty else { return true }
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
}

/// `count` random bytes from /dev/urandom.
func randomBytes(_ count: Int) -> [UInt8] {
    let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
    precondition(fd >= 0, "cannot open /dev/urandom")
    defer { close(fd) }
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        var filled = 0
        while filled < count {
            let n = read(fd, buffer.baseAddress! + filled, count - filled)
            precondition(n > 0 || errno == EINTR, "cannot read /dev/urandom")
            if n > 0 { filled += n }
        }
        initialized = count
    }
}
