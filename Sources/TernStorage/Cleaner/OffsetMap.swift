/// The cleaner's key → latest-offset map: a fixed-size open-addressing table of 128-bit key
/// hashes and offsets (24 bytes a slot), allocated once (per cleaner thread) and reused for every
/// cleaning, so its memory is exactly `log.cleaner.dedupe.buffer.size` divided among the threads.
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

    /// Allocates a table of `bufferBytes` (at least two slots).
    public init(bufferBytes: Int) {
        slots = max(bufferBytes / Self.slotSize, 2)
        // At least one slot stays empty, so every probe sequence ends.
        maxEntries = max(min(Int(Double(slots) * Self.loadFactor), slots - 1), 1)
        memory = UnsafeMutableRawBufferPointer.allocate(byteCount: slots * Self.slotSize, alignment: 8)
        memory.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { memory.deallocate() }

    /// Room for `n` more keys (counting each as new, which bounds the worst case).
    public func hasRoom(for n: Int) -> Bool { count + n <= maxEntries }

    /// Empties the map (touches memory only when it holds something).
    public func clear() {
        guard count > 0 else { return }
        memory.initializeMemory(as: UInt8.self, repeating: 0)
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
