import SystemPackage
import TernWire

/// Rewrites one group of consecutive segments into a single cleaned segment,
/// `<base>.log.cleaned` with its `.index.cleaned` and `.timeindex.cleaned`, all fsynced; the
/// caller swaps them in. Records superseded by a later offset of their key in the map are
/// dropped, as are tombstones of segments older than `delete.retention.ms`; a batch keeping all
/// its records is copied byte for byte, one keeping some is rebuilt around their unchanged bytes
/// (same codec), one keeping none disappears.
struct SegmentCleaner {
    let directory: String
    let topicPartition: TopicPartition
    let map: OffsetMap
    let options: CleaningOptions
    let indexIntervalBytes: Int

    private(set) var recordsRemoved = 0
    private(set) var tombstonesRemoved = 0
    /// When the tombstones this cleaning kept become removable.
    private(set) var tombstonesDueMs: Int64?

    /// Bytes gathered before each write to the cleaned file.
    static let writeBufferBytes = 1 << 20

    init(
        directory: String, topicPartition: TopicPartition, map: OffsetMap, options: CleaningOptions,
        indexIntervalBytes: Int
    ) {
        self.directory = directory
        self.topicPartition = topicPartition
        self.map = map
        self.options = options
        self.indexIntervalBytes = indexIntervalBytes
    }

    /// The paths of the files a cleaning of the segment at `base` writes.
    static func cleanedPaths(directory: String, base: Int64) -> [String] {
        [".log", ".index", ".timeindex"].map { directory + "/" + Segment.fileName(base, $0) + SwapFiles.cleanedSuffix }
    }

    /// Writes the cleaned segment; returns it (its file is the `.cleaned` one, its indexes in
    /// memory match the `.cleaned` index files).
    mutating func clean(_ group: [PartitionLog.CleanSource], shouldStop: () -> Bool) throws -> Segment {
        precondition(!group.isEmpty, "a group holds at least one segment")
        let base = group[0].baseOffset
        let paths = Self.cleanedPaths(directory: directory, base: base)
        for path in paths { try FileSystem.unlink(path) }
        do {
            return try write(group, base: base, paths: paths, shouldStop: shouldStop)
        } catch {
            for path in paths { try? FileSystem.unlink(path) }
            throw error
        }
    }

    private mutating func write(
        _ group: [PartitionLog.CleanSource], base: Int64, paths: [String], shouldStop: () -> Bool
    ) throws -> Segment {
        let file = try SegmentFile(path: paths[0], create: true)
        var segment = Segment(baseOffset: base, file: file, directory: directory, size: 0)
        var output: [UInt8] = []
        output.reserveCapacity(Self.writeBufferBytes + 64 * 1024)
        var written: Int64 = 0
        var plain: [UInt8] = []
        var kept: [UInt8] = []

        func flushOutput() throws {
            guard !output.isEmpty else { return }
            try output.withUnsafeBytes { try FileSystem.pwriteAll(file.fd, $0, at: written, path: file.path) }
            written += Int64(output.count)
            output.removeAll(keepingCapacity: true)
        }

        for source in group {
            let horizon = options.nowMs - options.deleteRetentionMs
            let dropTombstones = source.maxTimestamp >= 0 && source.maxTimestamp < horizon
            var scanner = BatchScanner(file: source.file, limit: source.size, from: 0, verifyCRC: true)
            while let entry = try scanner.next() {
                if shouldStop() { throw StorageError(.cancelled, "\(topicPartition): cleaning stopped") }
                let header = entry.header
                let position = written + Int64(output.count)
                let before = output.count
                try scanner.withLastBatch(entry) { batch in
                    if header.isControl {
                        output.append(contentsOf: batch)
                        return
                    }
                    kept.removeAll(keepingCapacity: true)
                    var keptCount: Int32 = 0
                    var maxTimestamp = Int64.min
                    var keptTombstone = false
                    try PartitionLog.forEachRecord(
                        batch, header: header, plain: &plain, file: source.file, at: entry.position
                    ) { records, record in
                        let offset = header.baseOffset + Int64(record.offsetDelta)
                        if let key = record.key {
                            let latest = map.get(KeyHash(UnsafeRawBufferPointer(rebasing: records[key])))
                            if latest > offset {
                                recordsRemoved += 1
                                return
                            }
                            if record.valueIsNull {
                                if dropTombstones {
                                    tombstonesRemoved += 1
                                    return
                                }
                                keptTombstone = true
                            }
                        }
                        kept.append(contentsOf: UnsafeRawBufferPointer(rebasing: records[record.bytes]))
                        keptCount += 1
                        maxTimestamp = max(maxTimestamp, header.baseTimestamp &+ record.timestampDelta)
                    }
                    if keptTombstone {
                        let due = source.maxTimestamp &+ options.deleteRetentionMs
                        tombstonesDueMs = min(tombstonesDueMs ?? .max, due)
                    }
                    if keptCount == header.recordCount {
                        output.append(contentsOf: batch)
                    } else if keptCount > 0 {
                        do {
                            try kept.withUnsafeBytes {
                                try RecordBatchRewriter.append(
                                    original: header, records: $0, recordCount: keptCount, maxTimestamp: maxTimestamp,
                                    to: &output)
                            }
                        } catch {
                            throw StorageError(.corruptLog, "\(source.file.path): batch at \(entry.position): \(error)")
                        }
                    }
                }
                if output.count > before {
                    let size = output.count - before
                    let newMax = output.withUnsafeBytes {
                        RecordBatchHeader($0, at: before)?.maxTimestamp ?? header.maxTimestamp
                    }
                    segment.didAppend(
                        baseOffset: header.baseOffset, lastOffset: header.lastOffset, maxTimestamp: newMax,
                        at: position, size: size, indexIntervalBytes: indexIntervalBytes)
                }
                if output.count >= Self.writeBufferBytes { try flushOutput() }
            }
            if let stop = scanner.stop {
                throw StorageError(
                    .corruptLog, "\(topicPartition): \(source.file.path) at position \(stop.position): \(stop.reason)")
            }
        }
        try flushOutput()
        segment.size = written
        segment.flushedSize = written
        try FileSystem.truncate(file.fd, to: written, path: file.path)
        try FileSystem.fdatasync(file.fd, path: file.path)
        if let last = segment.lastBatchOffset {
            segment.timeIndex.append(timestamp: segment.maxTimestamp, relativeOffset: segment.relative(last))
        }
        try Self.writeSynced(paths[1], segment.offsetIndex.serialized())
        try Self.writeSynced(paths[2], segment.timeIndex.serialized())
        segment.offsetIndex.persistedCount = segment.offsetIndex.count
        segment.timeIndex.persistedCount = segment.timeIndex.count
        return segment
    }

    /// Creates `path` holding `bytes`, fsynced.
    static func writeSynced(_ path: String, _ bytes: [UInt8]) throws {
        let fd = try FileSystem.open(path, create: true)
        defer { try? fd.close() }
        try FileSystem.truncate(fd, to: 0, path: path)
        try bytes.withUnsafeBytes { try FileSystem.pwriteAll(fd, $0, at: 0, path: path) }
        try FileSystem.fsync(fd, path: path)
    }
}
