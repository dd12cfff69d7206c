/// The sparse offset index of one segment: relative offset (u32) → file position (u32), one entry
/// per `index.interval.bytes` of log, kept in memory and written out as 8-byte big-endian entries.
struct OffsetIndex: Sendable {
    /// `relativeOffset << 32 | position`, both increasing.
    private(set) var entries: [UInt64] = []

    var count: Int { entries.count }

    mutating func append(relativeOffset: UInt32, position: UInt32) {
        entries.append(UInt64(relativeOffset) << 32 | UInt64(position))
    }

    /// The position of the last indexed batch starting at or before `relativeOffset` (0 if none).
    func position(forRelativeOffset target: UInt32) -> Int64 {
        var low = 0
        var high = entries.count - 1
        var found: Int64 = 0
        while low <= high {
            let mid = (low + high) / 2
            if UInt32(truncatingIfNeeded: entries[mid] >> 32) <= target {
                found = Int64(UInt32(truncatingIfNeeded: entries[mid]))
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return found
    }

    /// The position of the last entry (where a tail check starts).
    var lastPosition: Int64 { entries.last.map { Int64(UInt32(truncatingIfNeeded: $0)) } ?? 0 }

    /// Drops entries at or past `position`.
    mutating func truncate(toPosition position: Int64) {
        while let last = entries.last, Int64(UInt32(truncatingIfNeeded: last)) >= position { entries.removeLast() }
    }

    func serialized() -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(entries.count * 8)
        for entry in entries { withUnsafeBytes(of: entry.bigEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// Parses an index file; nil when it is not a plausible index for a log of `logSize` bytes.
    static func parse(_ bytes: [UInt8], logSize: Int64) -> OffsetIndex? {
        guard bytes.count % 8 == 0 else { return nil }
        var index = OffsetIndex()
        index.entries.reserveCapacity(bytes.count / 8)
        var previous: UInt64?
        for i in stride(from: 0, to: bytes.count, by: 8) {
            var entry: UInt64 = 0
            for j in 0..<8 { entry = entry << 8 | UInt64(bytes[i + j]) }
            let position = Int64(UInt32(truncatingIfNeeded: entry))
            guard position < logSize else { return nil }
            if let previous {
                guard entry >> 32 > previous >> 32, UInt32(truncatingIfNeeded: entry) > UInt32(truncatingIfNeeded: previous)
                else { return nil }
            }
            previous = entry
            index.entries.append(entry)
        }
        return index
    }
}

/// The time index of one segment: max timestamp so far (i64) → relative offset (u32), 12-byte
/// big-endian entries, timestamps increasing.
struct TimeIndex: Sendable {
    private(set) var timestamps: [Int64] = []
    private(set) var offsets: [UInt32] = []

    var lastTimestamp: Int64? { timestamps.last }

    mutating func append(timestamp: Int64, relativeOffset: UInt32) {
        if let last = timestamps.last, timestamp <= last { return }
        timestamps.append(timestamp)
        offsets.append(relativeOffset)
    }

    /// The relative offset of the last entry whose timestamp is below `timestamp` (where a search
    /// for the first record at or after it can start), or 0.
    func startOffset(before timestamp: Int64) -> UInt32 {
        var low = 0
        var high = timestamps.count - 1
        var found: UInt32 = 0
        while low <= high {
            let mid = (low + high) / 2
            if timestamps[mid] < timestamp {
                found = offsets[mid]
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return found
    }

    /// Drops entries at or past `relativeOffset`.
    mutating func truncate(toRelativeOffset relativeOffset: UInt32) {
        while let last = offsets.last, last >= relativeOffset {
            offsets.removeLast()
            timestamps.removeLast()
        }
    }

    func serialized() -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(timestamps.count * 12)
        for i in timestamps.indices {
            withUnsafeBytes(of: UInt64(bitPattern: timestamps[i]).bigEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: offsets[i].bigEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    static func parse(_ bytes: [UInt8]) -> TimeIndex? {
        guard bytes.count % 12 == 0 else { return nil }
        var index = TimeIndex()
        for i in stride(from: 0, to: bytes.count, by: 12) {
            var ts: UInt64 = 0
            for j in 0..<8 { ts = ts << 8 | UInt64(bytes[i + j]) }
            var rel: UInt32 = 0
            for j in 8..<12 { rel = rel << 8 | UInt32(bytes[i + j]) }
            if let last = index.timestamps.last, Int64(bitPattern: ts) <= last { return nil }
            index.timestamps.append(Int64(bitPattern: ts))
            index.offsets.append(rel)
        }
        return index
    }
}
