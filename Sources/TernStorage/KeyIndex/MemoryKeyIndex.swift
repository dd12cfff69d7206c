/// The key index of a segment still being written (the active one, or one just sealed whose
/// index file is not written yet): for each record with a key, its 64-bit key hash and its offset
/// relative to the segment's base, in offset order, with every entry linked to the previous entry
/// of the same hash and a hash table pointing at the newest entry of each hash.
///
/// Memory: 16 bytes per indexed record (hash 8, relative offset 4, link 4) plus a table of 4-byte
/// slots kept at most half full (8–16 bytes per distinct hash), grown by doubling.
///
/// A reference type so that appends extend it in place (a `Segment` copy held by an append's undo
/// path must not make every append copy the arrays). It is mutated and read only under the
/// owning ``PartitionLog``'s `state` lock, which is what makes `@unchecked Sendable` true.
final class MemoryKeyIndex: @unchecked Sendable {
    private(set) var hashes: [UInt64] = []
    private(set) var relativeOffsets: [UInt32] = []
    /// Index of the previous entry with the same hash, or -1.
    private var previous: [Int32] = []
    /// Open addressing (linear probing) on the hash: index of the newest entry of that hash, or -1.
    private var table: [Int32] = []
    private(set) var distinctHashes = 0

    var count: Int { hashes.count }

    init() {}

    /// Bytes this index holds (array capacities included).
    var memoryBytes: Int {
        hashes.capacity * 8 + relativeOffsets.capacity * 4 + previous.capacity * 4 + table.capacity * 4
    }

    /// Adds the record at `relativeOffset` (greater than every offset added so far) with key hash `hash`.
    func add(hash: UInt64, relativeOffset: UInt32) {
        if (distinctHashes + 1) * 2 > table.count { grow() }
        let entry = Int32(truncatingIfNeeded: hashes.count)
        hashes.append(hash)
        relativeOffsets.append(relativeOffset)
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let head = table[slot]
            if head < 0 {
                table[slot] = entry
                previous.append(-1)
                distinctHashes += 1
                return
            }
            if hashes[Int(head)] == hash {
                previous.append(head)
                table[slot] = entry
                return
            }
            slot = (slot + 1) & mask
        }
    }

    /// The newest entry with `hash`, or -1.
    func newest(_ hash: UInt64) -> Int32 {
        guard !table.isEmpty else { return -1 }
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let head = table[slot]
            if head < 0 { return -1 }
            if hashes[Int(head)] == hash { return head }
            slot = (slot + 1) & mask
        }
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
        for (hash, offset) in zip(oldHashes, oldOffsets) { add(hash: hash, relativeOffset: offset) }
    }

    /// The entries sorted by (hash, relative offset): what the index file holds.
    func sortedEntries() -> [KeyIndexEntry] {
        var entries = [KeyIndexEntry]()
        entries.reserveCapacity(hashes.count)
        for i in hashes.indices { entries.append(KeyIndexEntry(hash: hashes[i], relativeOffset: relativeOffsets[i])) }
        entries.sort()
        return entries
    }

    private func grow() {
        let size = max(16, table.count * 2)
        table = [Int32](repeating: -1, count: size)
        let mask = size - 1
        // Re-insert each hash's newest entry: walk entries newest first, first sighting wins.
        var i = hashes.count - 1
        while i >= 0 {
            var slot = Int(truncatingIfNeeded: hashes[i]) & mask
            while true {
                let head = table[slot]
                if head < 0 {
                    table[slot] = Int32(truncatingIfNeeded: i)
                    break
                }
                if hashes[Int(head)] == hashes[i] { break }
                slot = (slot + 1) & mask
            }
            i -= 1
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
