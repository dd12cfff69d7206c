import TernWire

/// One segment of a partition log: `N.log` holding batches whose offsets start at N, with its
/// offset and time indexes in memory.
struct Segment: Sendable {
    let baseOffset: Int64
    let file: SegmentFile
    let directory: String
    /// Bytes of valid batches.
    var size: Int64
    /// Bytes known to be on stable storage.
    var flushedSize: Int64
    /// The offset after the last batch.
    var nextOffset: Int64
    var offsetIndex = OffsetIndex()
    var timeIndex = TimeIndex()
    var maxTimestamp: Int64 = -1
    /// Bytes appended since the last index entry.
    var bytesSinceIndexEntry = 0
    /// Milliseconds since the epoch when the segment was created or opened (for `segment.ms`).
    let createdAtMs: Int64

    static func name(_ baseOffset: Int64, _ suffix: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    var logPath: String { directory + "/" + Self.name(baseOffset, ".log") }
    var indexPath: String { directory + "/" + Self.name(baseOffset, ".index") }
    var timeIndexPath: String { directory + "/" + Self.name(baseOffset, ".timeindex") }

    /// Creates an empty segment file.
    static func create(directory: String, baseOffset: Int64) throws -> Segment {
        let path = directory + "/" + name(baseOffset, ".log")
        let file = try SegmentFile(path: path, create: true)
        try FileSystem.truncate(file.fd, to: 0, path: path)
        return Segment(
            baseOffset: baseOffset, file: file, directory: directory, size: 0, flushedSize: 0, nextOffset: baseOffset,
            createdAtMs: WallClock.milliseconds())
    }

    /// Opens an existing segment. With `trustIndexes`, loads its index files when they look
    /// right and only checks the batches after the last index entry; otherwise (recovery) scans
    /// every batch with its CRC. Either way, the file is cut at the first invalid batch and the
    /// returned `Stop` says where and why.
    static func open(directory: String, baseOffset: Int64, trustIndexes: Bool, indexIntervalBytes: Int) throws -> (
        Segment, BatchScanner.Stop?
    ) {
        let path = directory + "/" + name(baseOffset, ".log")
        let file = try SegmentFile(path: path, create: false)
        let fileSize = try FileSystem.size(file.fd, path: path)
        var segment = Segment(
            baseOffset: baseOffset, file: file, directory: directory, size: 0, flushedSize: 0, nextOffset: baseOffset,
            createdAtMs: WallClock.milliseconds())
        var scanFrom: Int64 = 0
        if trustIndexes,
            let indexBytes = try AtomicFile.readIfExists(segment.indexPath),
            let index = OffsetIndex.parse(indexBytes, logSize: fileSize),
            let timeBytes = try AtomicFile.readIfExists(segment.timeIndexPath),
            let timeIndex = TimeIndex.parse(timeBytes)
        {
            segment.offsetIndex = index
            segment.timeIndex = timeIndex
            segment.maxTimestamp = timeIndex.lastTimestamp ?? -1
            scanFrom = index.lastPosition
        }
        // Entries at or after the scan start are rebuilt by the scan.
        segment.offsetIndex.truncate(toPosition: scanFrom)
        var scanner = BatchScanner(file: file, fileSize: fileSize, from: scanFrom, verifyCRC: true)
        var expectedOffset: Int64? = scanFrom == 0 ? baseOffset : nil
        var stop: BatchScanner.Stop?
        while let entry = try scanner.next() {
            if let expected = expectedOffset, entry.header.baseOffset < expected {
                stop = BatchScanner.Stop(
                    position: entry.position,
                    reason: "batch base offset \(entry.header.baseOffset) is below the expected \(expected)")
                break
            }
            segment.record(entry.header, at: entry.position, indexIntervalBytes: indexIntervalBytes)
            expectedOffset = entry.header.lastOffset + 1
        }
        stop = stop ?? scanner.stop
        let validEnd = stop?.position ?? fileSize
        if let stop {
            // Cut the torn or corrupt tail so that appends continue from the last good batch.
            try FileSystem.truncate(file.fd, to: stop.position, path: path)
            try FileSystem.fdatasync(file.fd, path: path)
        }
        segment.size = validEnd
        segment.flushedSize = validEnd
        if segment.nextOffset == baseOffset, validEnd > 0, scanFrom > 0 {
            // Trusted indexes but no batch after the last entry: impossible for a valid file
            // (the entry points at a batch); treat as needing a full scan.
            return try open(directory: directory, baseOffset: baseOffset, trustIndexes: false, indexIntervalBytes: indexIntervalBytes)
        }
        return (segment, stop)
    }

    /// Accounts for a batch at `position`: indexes, next offset, max timestamp.
    mutating func record(_ header: RecordBatchHeader, at position: Int64, indexIntervalBytes: Int) {
        let relative = UInt32(truncatingIfNeeded: header.baseOffset - baseOffset)
        // The time index records the running maximum, so an entry below a searched timestamp
        // proves every earlier batch is below it too.
        if header.maxTimestamp > maxTimestamp { maxTimestamp = header.maxTimestamp }
        if offsetIndex.count == 0 || bytesSinceIndexEntry >= indexIntervalBytes {
            if position > offsetIndex.lastPosition || offsetIndex.count == 0 {
                offsetIndex.append(relativeOffset: relative, position: UInt32(truncatingIfNeeded: position))
            }
            timeIndex.append(timestamp: maxTimestamp, relativeOffset: relative)
            bytesSinceIndexEntry = 0
        }
        bytesSinceIndexEntry += header.totalSize
        nextOffset = header.lastOffset + 1
    }

    /// Writes the index files (with a final time-index entry for the segment's max timestamp).
    mutating func writeIndexes() throws {
        if maxTimestamp > (timeIndex.lastTimestamp ?? Int64.min) && nextOffset > baseOffset {
            timeIndex.append(timestamp: maxTimestamp, relativeOffset: UInt32(truncatingIfNeeded: nextOffset - 1 - baseOffset))
        }
        try AtomicFile.write(indexPath, bytes: offsetIndex.serialized())
        try AtomicFile.write(timeIndexPath, bytes: timeIndex.serialized())
    }

    /// Removes the segment's files.
    func deleteFiles() throws {
        try FileSystem.unlink(logPath)
        try FileSystem.unlink(indexPath)
        try FileSystem.unlink(timeIndexPath)
    }
}

/// Wall-clock milliseconds since the epoch.
enum WallClock {
    static func milliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
import Glibc
#endif
