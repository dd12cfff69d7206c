import SystemPackage
import TernWire

/// Rewrites consecutive segments into cleaned segments, each `<base>.log.cleaned` with its
/// `.index.cleaned` and `.timeindex.cleaned`, all fsynced; the caller decides which segments go
/// into which output (``PartitionLog/clean(using:options:shouldStop:)``) and swaps them in. Records superseded by a later offset of their key in the map are
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

    /// A cleaned segment being written: `<base>.log.cleaned`, with its indexes in memory until
    /// ``finish(_:)`` writes them.
    struct Output {
        let base: Int64
        let paths: [String]
        let file: SegmentFile
        var segment: Segment
        /// Bytes gathered for the next write.
        var buffer: [UInt8] = []
        /// Bytes already written to the file.
        var written: Int64 = 0
        /// The source segments cleaned into it, oldest first.
        var sources: [PartitionLog.CleanSource] = []

        /// Bytes of cleaned log so far.
        var size: Int64 { written + Int64(buffer.count) }

        /// True when the batches of `source` may join (one segment's indexes hold relative
        /// offsets and positions as u32).
        func canIndex(_ source: PartitionLog.CleanSource, adding bytes: Int64) -> Bool {
            source.nextOffset - base <= Int64(UInt32.max) && size + bytes <= Int64(UInt32.max)
        }

        mutating func flushBuffer() throws {
            guard !buffer.isEmpty else { return }
            let (file, at) = (self.file, written)
            try buffer.withUnsafeBytes { try FileSystem.pwriteAll(file.fd, $0, at: at, path: file.path) }
            written += Int64(buffer.count)
            buffer.removeAll(keepingCapacity: true)
        }

        /// Adds one batch that starts at `position` of the output and spans `buffer[before...]`.
        mutating func account(_ header: RecordBatchHeader, before: Int, position: Int64, indexIntervalBytes: Int) {
            let size = buffer.count - before
            let newMax = buffer.withUnsafeBytes {
                RecordBatchHeader($0, at: before)?.maxTimestamp ?? header.maxTimestamp
            }
            segment.didAppend(
                baseOffset: header.baseOffset, lastOffset: header.lastOffset, maxTimestamp: newMax, at: position,
                size: size, indexIntervalBytes: indexIntervalBytes)
        }
    }

    /// Writes one group into a single cleaned segment and returns it (its file is the `.cleaned`
    /// one, its indexes in memory match the `.cleaned` index files).
    mutating func clean(_ group: [PartitionLog.CleanSource], shouldStop: () -> Bool) throws -> Segment {
        precondition(!group.isEmpty, "a group holds at least one segment")
        var output = try begin(base: group[0].baseOffset)
        do {
            for source in group { try add(source, to: &output, shouldStop: shouldStop) }
            return try finish(&output)
        } catch {
            Self.discard(output)
            throw error
        }
    }

    /// Starts a cleaned segment at `base` (removing leftovers of an earlier attempt).
    func begin(base: Int64) throws -> Output {
        let paths = Self.cleanedPaths(directory: directory, base: base)
        for path in paths { try FileSystem.unlink(path) }
        let file = try SegmentFile(path: paths[0], create: true)
        var output = Output(
            base: base, paths: paths, file: file,
            segment: Segment(baseOffset: base, file: file, directory: directory, size: 0))
        output.buffer.reserveCapacity(Self.writeBufferBytes + 64 * 1024)
        return output
    }

    /// Removes the files of an output that will not be swapped in.
    static func discard(_ output: Output) {
        for path in output.paths { try? FileSystem.unlink(path) }
    }

    /// Appends the cleaned batches of `source` to `output`. The source's file is opened here and
    /// held only while it is read.
    /// - Throws: `notFound` when the segment has left the log meanwhile; `corruptLog`; `ioError`.
    mutating func add(_ source: PartitionLog.CleanSource, to output: inout Output, shouldStop: () -> Bool) throws {
        let file = try source.handle.open()
        let horizon = options.nowMs - options.deleteRetentionMs
        let dropTombstones = source.maxTimestamp >= 0 && source.maxTimestamp < horizon
        var plain: [UInt8] = []
        var kept: [UInt8] = []
        var scanner = BatchScanner(file: file, limit: source.size, from: 0, verifyCRC: true)
        while let entry = try scanner.next() {
            if shouldStop() { throw StorageError(.cancelled, "\(topicPartition): cleaning stopped") }
            let header = entry.header
            let position = output.size
            let before = output.buffer.count
            try scanner.withLastBatch(entry) { batch in
                if header.isControl {
                    output.buffer.append(contentsOf: batch)
                    return
                }
                kept.removeAll(keepingCapacity: true)
                var keptCount: Int32 = 0
                var maxTimestamp = Int64.min
                var keptTombstone = false
                try PartitionLog.forEachRecord(batch, header: header, plain: &plain, file: file, at: entry.position) {
                    records, record in
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
                    output.buffer.append(contentsOf: batch)
                } else if keptCount > 0 {
                    do {
                        try kept.withUnsafeBytes {
                            try RecordBatchRewriter.append(
                                original: header, records: $0, recordCount: keptCount, maxTimestamp: maxTimestamp,
                                to: &output.buffer)
                        }
                    } catch {
                        throw StorageError(.corruptLog, "\(file.path): batch at \(entry.position): \(error)")
                    }
                }
            }
            if output.buffer.count > before {
                output.account(header, before: before, position: position, indexIntervalBytes: indexIntervalBytes)
            }
            if output.buffer.count >= Self.writeBufferBytes { try output.flushBuffer() }
        }
        if let stop = scanner.stop {
            throw StorageError(
                .corruptLog, "\(topicPartition): \(file.path) at position \(stop.position): \(stop.reason)")
        }
        output.sources.append(source)
    }

    /// Appends everything `other` holds (cleaned from the segments that follow `output`'s) to
    /// `output`: how a cleaned segment that turned out small joins the one before it.
    func append(_ other: inout Output, to output: inout Output) throws {
        try other.flushBuffer()
        var scanner = BatchScanner(file: other.file, limit: other.written, from: 0, verifyCRC: true)
        while let entry = try scanner.next() {
            let position = output.size
            let before = output.buffer.count
            scanner.withLastBatch(entry) { output.buffer.append(contentsOf: $0) }
            output.account(entry.header, before: before, position: position, indexIntervalBytes: indexIntervalBytes)
            if output.buffer.count >= Self.writeBufferBytes { try output.flushBuffer() }
        }
        if let stop = scanner.stop {
            throw StorageError(
                .corruptLog, "\(topicPartition): \(other.file.path) at position \(stop.position): \(stop.reason)")
        }
        output.sources += other.sources
    }

    /// Writes the rest of the log, fsyncs it, writes the index files (fsynced) and returns the
    /// cleaned segment.
    func finish(_ output: inout Output) throws -> Segment {
        try output.flushBuffer()
        let (file, written) = (output.file, output.written)
        var segment = output.segment
        segment.size = written
        segment.flushedSize = written
        try FileSystem.truncate(file.fd, to: written, path: file.path)
        try FileSystem.fdatasync(file.fd, path: file.path)
        if let last = segment.lastBatchOffset {
            segment.timeIndex.append(timestamp: segment.maxTimestamp, relativeOffset: segment.relative(last))
        }
        try Self.writeSynced(output.paths[1], segment.offsetIndex.serialized())
        try Self.writeSynced(output.paths[2], segment.timeIndex.serialized())
        segment.offsetIndex.persistedCount = segment.offsetIndex.count
        segment.timeIndex.persistedCount = segment.timeIndex.count
        output.segment = segment
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
