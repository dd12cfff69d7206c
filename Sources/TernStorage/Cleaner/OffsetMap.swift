#if canImport(Glibc)
import Glibc
#endif

/// The cleaner's key → latest-offset map: a fixed-size open-addressing table of 128-bit key
/// hashes and offsets (24 bytes a slot), mapped once (per cleaner thread) and reused for every
/// cleaning, so its memory is at most `log.cleaner.dedupe.buffer.size` divided among the threads.
/// The table is an anonymous private mapping: pages cost memory only once a key lands in them,
/// and ``clear()`` hands them back to the kernel (`MADV_DONTNEED`), so an idle cleaner holds
/// none of it.
///
/// It accepts keys until 90% of its slots are used (linear probing stays short below that);
/// ``PartitionLog/clean(using:options:shouldStop:)`` then stops mapping and cleans only the part
/// of the dirty section it covers. Not thread-safe: one thread owns it.
public final class OffsetMap {
    /// Bytes per slot: two 64-bit hash halves and the offset.
    public static let slotSize = 24
    /// The share of slots that may be filled.
    public static let loadFactor = 0.9

    /// Slots in the table.
    public let slots: Int
    /// How many distinct keys the map accepts.
    public let maxEntries: Int
    /// Distinct keys held.
    public private(set) var count = 0
    /// Bytes allocated for the table.
    public var memoryBytes: Int { slots * Self.slotSize }

    private let memory: UnsafeMutableRawBufferPointer
    /// True when `memory` is an `mmap` (else a zeroed heap allocation, if the mapping failed).
    private let mapped: Bool

    /// Reserves a table of `bufferBytes` (at least two slots).
    public init(bufferBytes: Int) {
        slots = max(bufferBytes / Self.slotSize, 2)
        // At least one slot stays empty, so every probe sequence ends.
        maxEntries = max(min(Int(Double(slots) * Self.loadFactor), slots - 1), 1)
        let bytes = slots * Self.slotSize
        let address = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if let address, address != MAP_FAILED {
            // Anonymous mappings read as zeros: every slot starts empty.
            memory = UnsafeMutableRawBufferPointer(start: address, count: bytes)
            mapped = true
        } else {
            memory = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 8)
            memory.initializeMemory(as: UInt8.self, repeating: 0)
            mapped = false
        }
    }

    deinit {
        if mapped { munmap(memory.baseAddress, memory.count) } else { memory.deallocate() }
    }

    /// Room for `n` more keys (counting each as new, which bounds the worst case).
    public func hasRoom(for n: Int) -> Bool { count + n <= maxEntries }

    /// Empties the map and returns its pages to the kernel (they read as zeros afterwards).
    public func clear() {
        guard count > 0 else { return }
        if !mapped || madvise(memory.baseAddress, memory.count, MADV_DONTNEED) != 0 {
            memory.initializeMemory(as: UInt8.self, repeating: 0)
        }
        count = 0
    }

    @inline(__always)
    private func slotStart(_ hash: KeyHash) -> Int { Int(truncatingIfNeeded: hash.high % UInt64(slots)) }

    /// Records `offset` as the latest of the key hashed to `hash` (a later offset replaces an
    /// earlier one). Returns false, storing nothing, when the key is new and the map is full.
    @discardableResult
    func put(_ hash: KeyHash, offset: Int64) -> Bool {
        var slot = slotStart(hash)
        while true {
            let base = slot * Self.slotSize
            let stored = memory.load(fromByteOffset: base + 16, as: Int64.self)
            if stored == 0 {
                guard count < maxEntries else { return false }
                memory.storeBytes(of: hash.high, toByteOffset: base, as: UInt64.self)
                memory.storeBytes(of: hash.low, toByteOffset: base + 8, as: UInt64.self)
                memory.storeBytes(of: offset + 1, toByteOffset: base + 16, as: Int64.self)
                count += 1
                return true
            }
            if memory.load(fromByteOffset: base, as: UInt64.self) == hash.high
                && memory.load(fromByteOffset: base + 8, as: UInt64.self) == hash.low
            {
                if offset + 1 > stored { memory.storeBytes(of: offset + 1, toByteOffset: base + 16, as: Int64.self) }
                return true
            }
            slot = slot + 1 == slots ? 0 : slot + 1
        }
    }

    /// The latest offset recorded for the key hashed to `hash`, or -1.
    func get(_ hash: KeyHash) -> Int64 {
        var slot = slotStart(hash)
        var probes = 0
        while probes < slots {
            let base = slot * Self.slotSize
            let stored = memory.load(fromByteOffset: base + 16, as: Int64.self)
            if stored == 0 { return -1 }
            if memory.load(fromByteOffset: base, as: UInt64.self) == hash.high
                && memory.load(fromByteOffset: base + 8, as: UInt64.self) == hash.low
            {
                return stored - 1
            }
            slot = slot + 1 == slots ? 0 : slot + 1
            probes += 1
        }
        return -1
    }
}
