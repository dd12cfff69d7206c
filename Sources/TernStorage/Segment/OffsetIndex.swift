/// The sparse offset index of one segment: relative offset (u32) → file position (u32), one
/// entry per `indexIntervalBytes` of log, both strictly increasing.
///
/// The entries live in memory; the index file (8-byte big-endian entries) is a copy written when
/// the segment is sealed or closed, and checked when it is loaded. It has no checksum: a file that
/// is not a plausible index is rebuilt from the log.
struct OffsetIndex: Sendable {
    static let entrySize = 8

    /// `relativeOffset << 32 | position`: ordered like either half, since both increase.
    private(set) var entries: [UInt64] = []
    /// How many leading entries the index file already holds.
    var persistedCount = 0

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// The last entry.
    var last: (relativeOffset: UInt32, position: Int64)? { entries.last.map(Self.split) }

    private static func split(_ entry: UInt64) -> (relativeOffset: UInt32, position: Int64) {
        (UInt32(truncatingIfNeeded: entry >> 32), Int64(UInt32(truncatingIfNeeded: entry)))
    }

    /// Adds an entry past every existing one.
    mutating func append(relativeOffset: UInt32, position: UInt32) {
        let entry = UInt64(relativeOffset) << 32 | UInt64(position)
        if let last = entries.last {
            precondition(
                entry >> 32 > last >> 32 && position > UInt32(truncatingIfNeeded: last), "index entries must increase")
        }
        entries.append(entry)
    }

    /// The last entry at or before `relativeOffset`: where a scan for that offset starts. Nil when
    /// the offset precedes every entry (scan from the start of the segment).
    func lookup(_ relativeOffset: UInt32) -> (relativeOffset: UInt32, position: Int64)? {
        // The first entry whose relative offset is greater, then one back.
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if UInt32(truncatingIfNeeded: entries[mid] >> 32) <= relativeOffset { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : Self.split(entries[low - 1])
    }

    /// Drops the entries at or past `position` (the log was cut there).
    mutating func truncate(toPosition position: Int64) {
        while let last = entries.last, Int64(UInt32(truncatingIfNeeded: last)) >= position { entries.removeLast() }
        persistedCount = min(persistedCount, entries.count)
    }

    /// The file bytes of the entries from `start` on.
    func serialized(from start: Int = 0) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity((entries.count - start) * Self.entrySize)
        for entry in entries[start...] { withUnsafeBytes(of: entry.bigEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// Parses an index file of a segment whose log holds `logSize` bytes, or says why it is not a
    /// plausible one (a partial entry, entries not increasing, a position past the log, a first
    /// entry not at position 0).
    static func parse(_ bytes: [UInt8], logSize: Int64) -> Result<OffsetIndex, IndexProblem> {
        guard bytes.count % entrySize == 0 else {
            return .failure(IndexProblem("\(bytes.count) bytes is not a whole number of \(entrySize)-byte entries"))
        }
        var index = OffsetIndex()
        index.entries.reserveCapacity(bytes.count / entrySize)
        for start in stride(from: 0, to: bytes.count, by: entrySize) {
            var entry: UInt64 = 0
            for i in start..<start + entrySize { entry = entry << 8 | UInt64(bytes[i]) }
            let (relative, position) = split(entry)
            guard position < logSize else {
                return .failure(
                    IndexProblem("entry \(start / entrySize) points at \(position), past the log's \(logSize) bytes"))
            }
            if let last = index.entries.last {
                guard entry >> 32 > last >> 32, position > split(last).position else {
                    return .failure(IndexProblem("entry \(start / entrySize) does not follow the one before"))
                }
            } else if position != 0 || relative == UInt32.max {
                return .failure(IndexProblem("the first entry points at \(position), not at the first batch"))
            }
            index.entries.append(entry)
        }
        index.persistedCount = index.entries.count
        return .success(index)
    }
}

/// Why an index file was not used.
struct IndexProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
