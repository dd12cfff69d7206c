import Synchronization
import SystemPackage
import TernWire

/// One segment of a partition log: `N.log` holding batches whose offsets start at N (the base
/// offset, 20 digits in the file names), with its offset and time indexes in memory and copies of
/// them in `N.index` and `N.timeindex`.
///
/// A value type owned by ``PartitionLog``'s locked state. The log file is opened on demand
/// through ``handle`` (the process-wide ``SegmentFileCache`` bounds how many stay open).
struct Segment: Sendable {
    let baseOffset: Int64
    /// The log file, opened on demand; shared by reference with the reads that use it.
    let handle: SegmentHandle
    let directory: String
    /// Bytes of valid batches in the file.
    var size: Int64
    /// Bytes known to be on stable storage.
    var flushedSize: Int64
    /// The offset after the last batch (the base offset while empty).
    var nextOffset: Int64
    var offsetIndex = OffsetIndex()
    var timeIndex = TimeIndex()
    /// The largest batch max timestamp in the segment; -1 while empty.
    var maxTimestamp: Int64 = -1
    /// Base offset of the last batch.
    var lastBatchOffset: Int64?
    /// Bytes of log since the last index entry.
    var bytesSinceIndexEntry = 0
    /// When this process created or opened the segment (monotonic milliseconds), for `segmentMs`.
    let createdAtMs: Int64
    /// Index files written since they were last fsynced.
    var indexFilesUnsynced = false
    /// The key index, when the log keeps one: in memory while the segment is active (and until
    /// its file is written after it is sealed), else its `N.keyindex` file; nil when the log keeps
    /// none, or while a sealed segment's index is still to be built (queries then scan it).
    var keyIndex: SegmentKeyIndex?

    /// `00000000000000000042.log` for base offset 42 and suffix `.log`.
    static func fileName(_ baseOffset: Int64, _ suffix: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    /// The base offset in a segment file name (`<20 digits>.log`), or nil.
    static func baseOffset(fromFileName name: String, suffix: String) -> Int64? {
        guard name.hasSuffix(suffix) else { return nil }
        let digits = name.dropLast(suffix.count)
        guard digits.count == 20, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return Int64(digits)
    }

    var logPath: String { directory + "/" + Self.fileName(baseOffset, ".log") }
    var indexPath: String { directory + "/" + Self.fileName(baseOffset, ".index") }
    var timeIndexPath: String { directory + "/" + Self.fileName(baseOffset, ".timeindex") }
    var keyIndexPath: String { directory + "/" + Self.fileName(baseOffset, ".keyindex") }

    /// The open log file. Whoever uses its descriptor holds the result meanwhile (that is the
    /// pin that keeps the cache from closing it); an evicted file is opened again here.
    /// - Throws: `ioError` when it cannot be opened; `notFound` once the segment left its log.
    var file: SegmentFile {
        get throws { try handle.open() }
    }

    /// A segment over `file`, its log at `directory/<base>.log` (`file` may be open under another
    /// name, as a cleaned file is before its swap: the handle opens the final name afterwards).
    init(baseOffset: Int64, file: SegmentFile, directory: String, size: Int64) {
        let path = directory + "/" + Self.fileName(baseOffset, ".log")
        self.init(
            baseOffset: baseOffset, handle: SegmentHandle(path: path, file: file.path == path ? file : nil),
            directory: directory, size: size)
    }

    init(baseOffset: Int64, handle: SegmentHandle, directory: String, size: Int64) {
        self.baseOffset = baseOffset
        self.handle = handle
        self.directory = directory
        self.size = size
        self.flushedSize = size
        self.nextOffset = baseOffset
        self.createdAtMs = FileSystem.monotonicMilliseconds()
    }

    /// Creates an empty segment file (and removes stale index files of the same name).
    static func create(directory: String, baseOffset: Int64) throws -> Segment {
        let path = directory + "/" + fileName(baseOffset, ".log")
        let file = try SegmentFile(path: path, create: true)
        let existing = try FileSystem.size(file.fd, path: path)
        guard existing == 0 else {
            throw StorageError(.corruptLog, "cannot create segment \(path): it exists and holds \(existing) bytes")
        }
        try FileSystem.unlink(directory + "/" + fileName(baseOffset, ".index"))
        try FileSystem.unlink(directory + "/" + fileName(baseOffset, ".timeindex"))
        try FileSystem.unlink(directory + "/" + fileName(baseOffset, ".keyindex"))
        var segment = Segment(baseOffset: baseOffset, file: file, directory: directory, size: 0)
        segment.flushedSize = 0
        return segment
    }

    /// The offset relative to the base, as the indexes store it. Callers keep offsets within
    /// `UInt32.max` of the base (the log rolls before that).
    func relative(_ offset: Int64) -> UInt32 { UInt32(truncatingIfNeeded: offset - baseOffset) }

    /// True when a batch ending at `lastOffset` and `bytes` more of log still fit the index formats.
    func canHold(lastOffset: Int64, bytes: Int) -> Bool {
        lastOffset - baseOffset <= Int64(UInt32.max) && size + Int64(bytes) <= Int64(UInt32.max)
    }

    /// Accounts for a batch written at `position`: offsets, timestamps, and an index entry when
    /// `indexIntervalBytes` of log have passed since the last one.
    mutating func didAppend(
        baseOffset batchBase: Int64, lastOffset: Int64, maxTimestamp batchMax: Int64, at position: Int64, size: Int,
        indexIntervalBytes: Int
    ) {
        if batchMax > maxTimestamp { maxTimestamp = batchMax }
        if offsetIndex.isEmpty || bytesSinceIndexEntry >= indexIntervalBytes {
            offsetIndex.append(relativeOffset: relative(batchBase), position: UInt32(truncatingIfNeeded: position))
            timeIndex.append(timestamp: maxTimestamp, relativeOffset: relative(batchBase))
            bytesSinceIndexEntry = 0
        }
        bytesSinceIndexEntry += size
        lastBatchOffset = batchBase
        nextOffset = lastOffset + 1
    }

    // MARK: index files

    /// Appends the index entries the files do not hold yet; with `sealing`, first records the
    /// segment's largest timestamp in the time index so a later open knows it without a scan.
    mutating func writeIndexes(sealing: Bool) throws {
        if sealing, let last = lastBatchOffset {
            timeIndex.append(timestamp: maxTimestamp, relativeOffset: relative(last))
        }
        if offsetIndex.persistedCount < offsetIndex.count || !FileSystem.exists(indexPath) {
            try Self.writeEntries(
                offsetIndex.serialized(from: offsetIndex.persistedCount),
                at: Int64(offsetIndex.persistedCount * OffsetIndex.entrySize), path: indexPath)
            offsetIndex.persistedCount = offsetIndex.count
            indexFilesUnsynced = true
        }
        if timeIndex.persistedCount < timeIndex.count || !FileSystem.exists(timeIndexPath) {
            try Self.writeEntries(
                timeIndex.serialized(from: timeIndex.persistedCount),
                at: Int64(timeIndex.persistedCount * TimeIndex.entrySize), path: timeIndexPath)
            timeIndex.persistedCount = timeIndex.count
            indexFilesUnsynced = true
        }
    }

    /// Replaces both index files with the in-memory indexes, crash-safely (after a rebuild).
    mutating func rewriteIndexes() throws {
        try AtomicFile.write(indexPath, bytes: offsetIndex.serialized())
        try AtomicFile.write(timeIndexPath, bytes: timeIndex.serialized())
        offsetIndex.persistedCount = offsetIndex.count
        timeIndex.persistedCount = timeIndex.count
    }

    /// Writes `bytes` at `offset` of an index file and cuts whatever follows.
    private static func writeEntries(_ bytes: [UInt8], at offset: Int64, path: String) throws {
        let fd = try FileSystem.open(path, create: true)
        defer { try? fd.close() }
        try bytes.withUnsafeBytes { try FileSystem.pwriteAll(fd, $0, at: offset, path: path) }
        try FileSystem.truncate(fd, to: offset + Int64(bytes.count), path: path)
    }

    /// Cuts the index files down to the entries they should still hold (after a truncation, or
    /// for an empty segment).
    func trimIndexFiles() throws {
        for (path, length) in [
            (indexPath, offsetIndex.persistedCount * OffsetIndex.entrySize),
            (timeIndexPath, timeIndex.persistedCount * TimeIndex.entrySize),
        ] where FileSystem.exists(path) {
            let fd = try FileSystem.open(path, create: false)
            defer { try? fd.close() }
            if try FileSystem.size(fd, path: path) > Int64(length) {
                try FileSystem.truncate(fd, to: Int64(length), path: path)
            }
        }
    }

    /// fdatasyncs the index files of `segment` at `directory` (done by flushes, outside the lock).
    static func syncIndexFiles(directory: String, baseOffset: Int64) throws {
        for suffix in [".index", ".timeindex"] {
            let path = directory + "/" + fileName(baseOffset, suffix)
            guard FileSystem.exists(path) else { continue }
            let fd = try FileSystem.open(path, create: false)
            defer { try? fd.close() }
            try FileSystem.fdatasync(fd, path: path)
        }
    }

    // MARK: truncation and deletion

    /// Cuts the segment at `cut`, a batch boundary; `droppedOffset` is the base offset of the
    /// first batch removed. Offsets and timestamps are recomputed from the batches between the
    /// last remaining index entry and the cut (at most about `indexIntervalBytes` of log).
    mutating func truncate(toPosition cut: Int64, droppedOffset: Int64) throws {
        let file = try self.file
        try FileSystem.truncate(file.fd, to: cut, path: logPath)
        offsetIndex.truncate(toPosition: cut)
        timeIndex.truncate(toRelativeOffset: relative(max(droppedOffset, baseOffset)))
        size = cut
        flushedSize = min(flushedSize, cut)
        nextOffset = baseOffset
        lastBatchOffset = nil
        maxTimestamp = timeIndex.last?.timestamp ?? -1
        let from = offsetIndex.last?.position ?? 0
        var scanner = BatchScanner(file: file, limit: cut, from: from, verifyCRC: false)
        while let entry = try scanner.next() {
            maxTimestamp = max(maxTimestamp, entry.header.maxTimestamp)
            lastBatchOffset = entry.header.baseOffset
            nextOffset = entry.header.lastOffset + 1
        }
        if let stop = scanner.stop {
            throw StorageError(.corruptLog, "\(logPath) at position \(stop.position): \(stop.reason)")
        }
        bytesSinceIndexEntry = Int(cut - from)
        try trimIndexFiles()
    }

    /// Invalidates reads planned over the file's current bytes (before a truncation changes them).
    func fenceReads() { handle.truncations.add(1, ordering: .sequentiallyConsistent) }

    /// Removes the segment's files (the segment leaves its log: its handle is retired, and its
    /// descriptor closes once no read uses it).
    func deleteFiles() throws {
        handle.retire()
        try FileSystem.unlink(logPath)
        try FileSystem.unlink(indexPath)
        try FileSystem.unlink(timeIndexPath)
        try FileSystem.unlink(keyIndexPath)
    }
}
