/// The time index of one segment: 12-byte big-endian entries of (largest timestamp so far, i64;
/// relative offset of the batch that was last when it was recorded, u32). Timestamps strictly
/// increase, offsets never decrease.
///
/// An entry (T, O) promises that every record in the batches up to and including the one at O
/// has a timestamp at most T, so a search for the first record at or after a timestamp may skip
/// everything before the last entry whose T is below it.
struct TimeIndex: Sendable {
    static let entrySize = 12

    private(set) var timestamps: [Int64] = []
    private(set) var offsets: [UInt32] = []
    /// How many leading entries the index file already holds.
    var persistedCount = 0

    var count: Int { timestamps.count }
    var last: (timestamp: Int64, relativeOffset: UInt32)? {
        guard let timestamp = timestamps.last, let offset = offsets.last else { return nil }
        return (timestamp, offset)
    }

    /// Records that the largest timestamp up to the batch at `relativeOffset` is `timestamp`;
    /// ignored unless it raises the largest one so far.
    mutating func append(timestamp: Int64, relativeOffset: UInt32) {
        if let last = timestamps.last, timestamp <= last { return }
        if let lastOffset = offsets.last, relativeOffset < lastOffset { return }
        timestamps.append(timestamp)
        offsets.append(relativeOffset)
    }

    /// The relative offset of the last entry whose timestamp is below `timestamp`: a search for
    /// the first record at or after it can start at that batch. Nil when there is none.
    func startOffset(searchingFor timestamp: Int64) -> UInt32? {
        var low = 0
        var high = timestamps.count
        while low < high {
            let mid = (low + high) / 2
            if timestamps[mid] < timestamp { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : offsets[low - 1]
    }

    /// Drops the entries for batches at or past `relativeOffset` (the log was cut there).
    mutating func truncate(toRelativeOffset relativeOffset: UInt32) {
        while let last = offsets.last, last >= relativeOffset {
            offsets.removeLast()
            timestamps.removeLast()
        }
        persistedCount = min(persistedCount, timestamps.count)
    }

    /// The file bytes of the entries from `start` on.
    func serialized(from start: Int = 0) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity((timestamps.count - start) * Self.entrySize)
        for i in start..<timestamps.count {
            withUnsafeBytes(of: UInt64(bitPattern: timestamps[i]).bigEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: offsets[i].bigEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    /// Parses a time index file, or says why it is not a plausible one.
    static func parse(_ bytes: [UInt8]) -> Result<TimeIndex, IndexProblem> {
        guard bytes.count % entrySize == 0 else {
            return .failure(IndexProblem("\(bytes.count) bytes is not a whole number of \(entrySize)-byte entries"))
        }
        var index = TimeIndex()
        for start in stride(from: 0, to: bytes.count, by: entrySize) {
            var raw: UInt64 = 0
            for i in start..<start + 8 { raw = raw << 8 | UInt64(bytes[i]) }
            var offset: UInt32 = 0
            for i in start + 8..<start + 12 { offset = offset << 8 | UInt32(bytes[i]) }
            let timestamp = Int64(bitPattern: raw)
            if let last = index.timestamps.last, let lastOffset = index.offsets.last {
                guard timestamp > last, offset >= lastOffset else {
                    return .failure(IndexProblem("entry \(start / entrySize) does not follow the one before"))
                }
            }
            index.timestamps.append(timestamp)
            index.offsets.append(offset)
        }
        index.persistedCount = index.timestamps.count
        return .success(index)
    }
}
