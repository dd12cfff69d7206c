/// The key index of a segment still being written (the active one, or one just sealed whose
/// index file is not written yet): for each record with a key, its 64-bit key hash and its offset
/// relative to the segment's base, in offset order, with every entry linked to the previous entry
/// of the same hash and a hash table pointing at the newest entry of each hash.
///
/// Memory: 16 bytes per indexed record (hash 8, relative offset 4, link 4) plus a table of 8-byte
/// slots kept at most 3/4 full (about 11–21 bytes per distinct hash), grown by doubling. A slot
/// holds the newest entry's index and the top 32 bits of its hash, so a probe rarely touches the
/// entry arrays for a hash that is not the one looked for (one cache miss per lookup, not two).
///
/// A reference type so that appends extend it in place (a `Segment` copy held by an append's undo
/// path must not make every append copy the arrays). It is mutated and read only under the
/// owning ``PartitionLog``'s `state` lock, which is what makes `@unchecked Sendable` true.
final class MemoryKeyIndex: @unchecked Sendable {
    private(set) var hashes: [UInt64] = []
    private(set) var relativeOffsets: [UInt32] = []
    /// Index of the previous entry with the same hash, or -1.
    private var previous: [Int32] = []
    /// Open addressing (linear probing) on the hash: `tag << 32 | (entry + 1)` where `tag` is the
    /// hash's top 32 bits and `entry` the newest entry of that hash; 0 when empty.
    private var table: [UInt64] = []
    private(set) var distinctHashes = 0

    var count: Int { hashes.count }

    init() {}

    /// Bytes this index holds (array capacities included).
    var memoryBytes: Int {
        hashes.capacity * 8 + relativeOffsets.capacity * 4 + previous.capacity * 4 + table.capacity * 8
    }

    @inline(__always)
    private static func tag(_ hash: UInt64) -> UInt64 { hash & 0xFFFF_FFFF_0000_0000 }

    /// The slot holding `hash`, or the empty slot where it would go.
    @inline(__always)
    private func slot(of hash: UInt64) -> Int {
        let mask = table.count - 1
        let tag = Self.tag(hash)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let value = table[slot]
            if value == 0 { return slot }
            if value & 0xFFFF_FFFF_0000_0000 == tag && hashes[Int(value & 0xFFFF_FFFF) - 1] == hash { return slot }
            slot = (slot + 1) & mask
        }
    }

    /// Adds the record at `relativeOffset` (greater than every offset added so far) with key hash `hash`.
    func add(hash: UInt64, relativeOffset: UInt32) {
        add(hashes: [hash][...], relativeOffsets: [relativeOffset][...])
    }

    /// Adds records (offsets ascending, past every offset added so far) with their key hashes:
    /// the table is grown once up front, then probed through unsafe buffers (no per-record
    /// exclusivity checks, bounds checks or reference counting).
    func add(hashes newHashes: ArraySlice<UInt64>, relativeOffsets newOffsets: ArraySlice<UInt32>) {
        precondition(newHashes.count == newOffsets.count, "one offset per hash")
        let n = newHashes.count
        guard n > 0 else { return }
        while (distinctHashes + n) * 4 > table.count * 3 { grow() }
        let first = hashes.count
        reserve(first + n)
        hashes.append(contentsOf: newHashes)
        relativeOffsets.append(contentsOf: newOffsets)
        var added = 0
        var links = [Int32](repeating: -1, count: n)
        hashes.withUnsafeBufferPointer { all in
            table.withUnsafeMutableBufferPointer { slots in
                let mask = slots.count - 1
                for k in 0..<n {
                    let entry = first + k
                    let hash = all[entry]
                    let tag = Self.tag(hash)
                    var slot = Int(truncatingIfNeeded: hash) & mask
                    while true {
                        let value = slots[slot]
                        if value == 0 {
                            added += 1
                            break
                        }
                        if value & 0xFFFF_FFFF_0000_0000 == tag && all[Int(value & 0xFFFF_FFFF) - 1] == hash {
                            links[k] = Int32(truncatingIfNeeded: (value & 0xFFFF_FFFF) - 1)
                            break
                        }
                        slot = (slot + 1) & mask
                    }
                    slots[slot] = tag | UInt64(entry + 1)
                }
            }
        }
        previous.append(contentsOf: links)
        distinctHashes += added
    }

    /// Makes room for `count` entries, growing geometrically (`reserveCapacity` alone would
    /// reallocate to the exact size on every call).
    private func reserve(_ count: Int) {
        guard hashes.capacity < count else { return }
        let target = max(count, hashes.capacity * 2, 64)
        hashes.reserveCapacity(target)
        relativeOffsets.reserveCapacity(target)
        previous.reserveCapacity(target)
    }

    /// The newest entry with `hash`, or -1.
    func newest(_ hash: UInt64) -> Int32 {
        guard !table.isEmpty else { return -1 }
        let value = table[slot(of: hash)]
        return value == 0 ? -1 : Int32(truncatingIfNeeded: (value & 0xFFFF_FFFF) - 1)
    }

    /// The relative offsets of `hash`'s records, newest first, calling `body` until it returns false.
    func forEachNewestFirst(_ hash: UInt64, _ body: (UInt32) throws -> Bool) rethrows {
        var entry = newest(hash)
        while entry >= 0 {
            guard try body(relativeOffsets[Int(entry)]) else { return }
            entry = previous[Int(entry)]
        }
    }

    /// The relative offsets of `hash`'s records at or after `from`, oldest first.
    func offsets(of hash: UInt64, from: UInt32) -> [UInt32] {
        var found: [UInt32] = []
        forEachNewestFirst(hash) { relative in
            guard relative >= from else { return false }
            found.append(relative)
            return true
        }
        found.reverse()
        return found
    }

    /// Drops the entries at or after `relativeOffset` (the log was cut there).
    func truncate(fromRelativeOffset relativeOffset: UInt32) {
        var keep = relativeOffsets.count
        while keep > 0 && relativeOffsets[keep - 1] >= relativeOffset { keep -= 1 }
        guard keep < relativeOffsets.count else { return }
        let (oldHashes, oldOffsets) = (hashes[..<keep], relativeOffsets[..<keep])
        hashes = []
        relativeOffsets = []
        previous = []
        table = []
        distinctHashes = 0
        add(hashes: oldHashes, relativeOffsets: oldOffsets)
    }

    /// The entries sorted by (hash, relative offset): what the index file holds.
    func sortedEntries() -> [KeyIndexEntry] {
        var entries = [KeyIndexEntry]()
        entries.reserveCapacity(hashes.count)
        for i in hashes.indices { entries.append(KeyIndexEntry(hash: hashes[i], relativeOffset: relativeOffsets[i])) }
        entries.sort()
        return entries
    }

    /// Doubles the table and re-inserts every slot's newest entry.
    private func grow() {
        let old = table
        table = [UInt64](repeating: 0, count: max(16, old.count * 2))
        let mask = table.count - 1
        for value in old where value != 0 {
            var slot = Int(truncatingIfNeeded: hashes[Int(value & 0xFFFF_FFFF) - 1]) & mask
            while table[slot] != 0 { slot = (slot + 1) & mask }
            table[slot] = value
        }
    }
}

/// One entry of a sealed segment's key index.
struct KeyIndexEntry: Comparable, Sendable {
    var hash: UInt64
    var relativeOffset: UInt32

    static func < (a: KeyIndexEntry, b: KeyIndexEntry) -> Bool {
        a.hash != b.hash ? a.hash < b.hash : a.relativeOffset < b.relativeOffset
    }
}
