import Logging
import Synchronization
import TernWire

/// One partition's log on disk: an ordered list of segments, the last one active.
///
/// Appends are serialized by the log's mutex and write all the batches of a call with one
/// `pwrite`; reads take the mutex only to locate their start and then read without it, since
/// bytes below the recorded size are never rewritten.
public final class PartitionLog: Sendable {
    public let topicPartition: TopicPartition
    /// The partition's directory.
    public let directory: String
    let logger: Logger

    struct State: Sendable {
        var segments: [Segment]
        var logStartOffset: Int64
        var recoveryPoint: Int64
        var config: LogConfig
        var closed = false
        /// A segment file was created since the directory was last fsynced.
        var directoryDirty = false
    }
    let state: Mutex<State>

    init(
        topicPartition: TopicPartition, directory: String, segments: [Segment], logStartOffset: Int64,
        recoveryPoint: Int64, config: LogConfig, logger: Logger
    ) {
        self.topicPartition = topicPartition
        self.directory = directory
        var logger = logger
        logger[metadataKey: "tern_topic"] = "\(topicPartition.topic)"
        logger[metadataKey: "tern_partition"] = "\(topicPartition.partition)"
        self.logger = logger
        state = Mutex(
            State(
                segments: segments, logStartOffset: logStartOffset, recoveryPoint: recoveryPoint, config: config))
    }

    /// The first offset still in the log.
    public var logStartOffset: Int64 { state.withLock { $0.logStartOffset } }
    /// The offset the next appended record gets.
    public var logEndOffset: Int64 { state.withLock { $0.segments.last?.nextOffset ?? $0.logStartOffset } }
    /// Every offset below this is on stable storage.
    public var recoveryPoint: Int64 { state.withLock { $0.recoveryPoint } }
    /// Bytes of all segments.
    public var sizeInBytes: Int64 { state.withLock { $0.segments.reduce(0) { $0 + $1.size } } }
    public var segmentCount: Int { state.withLock { $0.segments.count } }
    /// Base offsets of the segments, oldest first.
    public var segmentBaseOffsets: [Int64] { state.withLock { $0.segments.map(\.baseOffset) } }
    /// The log's current settings.
    public var config: LogConfig {
        get { state.withLock { $0.config } }
    }

    /// Replaces the log's settings (they apply from the next append).
    public func update(config: LogConfig) { state.withLock { $0.config = config } }

    // MARK: append

    /// Appends validated batches (`batches` describe `bytes`, as `RecordBatchValidator` returned
    /// them): assigns consecutive offsets by patching each header's baseOffset and
    /// partitionLeaderEpoch in place (outside the CRC), rolls the segment first when it is full or
    /// old, and writes everything with one `pwrite`.
    public func append(_ bytes: inout [UInt8], batches: [ValidatedBatch], leaderEpoch: Int32) throws -> AppendResult {
        try state.withLock { state in
            guard !state.closed else { throw StorageError(.closed, "\(topicPartition) is closed") }
            for batch in batches where batch.size > state.config.maxMessageBytes {
                throw StorageError(
                    .messageTooLarge,
                    "\(topicPartition): batch of \(batch.size) bytes exceeds \(state.config.maxMessageBytes)")
            }
            try rollIfNeeded(&state, incoming: bytes.count)
            let last = state.segments.count - 1
            let baseOffset = state.segments[last].nextOffset
            var next = baseOffset
            bytes.withUnsafeMutableBytes { raw in
                for batch in batches {
                    RecordBatchHeader.assign(
                        baseOffset: next, partitionLeaderEpoch: leaderEpoch, in: raw, at: batch.position)
                    next += Int64(batch.header.lastOffsetDelta) + 1
                }
            }
            try write(&state, bytes, batches: batches, assignedFrom: baseOffset)
            return AppendResult(
                baseOffset: baseOffset, lastOffset: next - 1, logEndOffset: next, logStartOffset: state.logStartOffset)
        }
    }

    /// Appends batches that already carry their offsets (a follower copying its leader). Each
    /// batch is checked (CRC) and must start at or after the log end offset.
    public func appendAsFollower(_ bytes: [UInt8]) throws -> AppendResult {
        var batches: [ValidatedBatch] = []
        try bytes.withUnsafeBytes { raw in
            var position = 0
            while position < raw.count {
                let header = try RecordBatchValidator.validateStored(raw, at: position)
                batches.append(ValidatedBatch(position: position, header: header))
                position += header.totalSize
            }
        }
        guard let first = batches.first, let lastBatch = batches.last else {
            throw StorageError(.invalidBatch, "\(topicPartition): no batches to append")
        }
        return try state.withLock { state in
            guard !state.closed else { throw StorageError(.closed, "\(topicPartition) is closed") }
            var expected = state.segments[state.segments.count - 1].nextOffset
            for batch in batches {
                guard batch.header.baseOffset >= expected else {
                    throw StorageError(
                        .invalidBatch,
                        "\(topicPartition): batch at offset \(batch.header.baseOffset) is below the log end \(expected)")
                }
                expected = batch.header.lastOffset + 1
            }
            try rollIfNeeded(&state, incoming: bytes.count)
            try write(&state, bytes, batches: batches, assignedFrom: first.header.baseOffset)
            return AppendResult(
                baseOffset: first.header.baseOffset, lastOffset: lastBatch.header.lastOffset,
                logEndOffset: lastBatch.header.lastOffset + 1, logStartOffset: state.logStartOffset)
        }
    }

    private func write(_ state: inout State, _ bytes: [UInt8], batches: [ValidatedBatch], assignedFrom: Int64) throws {
        let last = state.segments.count - 1
        let position = state.segments[last].size
        let file = state.segments[last].file
        do {
            try bytes.withUnsafeBytes { try FileSystem.pwriteAll(file.fd, $0, at: position, path: file.path) }
        } catch {
            // Leave no partial batch behind: the next append would land after it.
            try? FileSystem.truncate(file.fd, to: position, path: file.path)
            throw error
        }
        let interval = state.config.indexIntervalBytes
        bytes.withUnsafeBytes { raw in
            for batch in batches {
                // Re-read the header: baseOffset was just assigned.
                guard let header = RecordBatchHeader(raw, at: batch.position) else { continue }
                state.segments[last].record(header, at: position + Int64(batch.position), indexIntervalBytes: interval)
            }
        }
        state.segments[last].size = position + Int64(bytes.count)
    }

    private func rollIfNeeded(_ state: inout State, incoming: Int) throws {
        let active = state.segments[state.segments.count - 1]
        guard active.size > 0 else { return }
        let full = active.size + Int64(incoming) > Int64(state.config.segmentBytes)
        let old = WallClock.milliseconds() - active.createdAtMs >= state.config.segmentMs
        let offsetRange = active.nextOffset - active.baseOffset >= Int64(UInt32.max)
        let positionRange = active.size + Int64(incoming) > Int64(UInt32.max)
        guard full || old || offsetRange || positionRange else { return }
        try roll(&state)
    }

    private func roll(_ state: inout State) throws {
        let last = state.segments.count - 1
        try state.segments[last].writeIndexes()
        let next = state.segments[last].nextOffset
        state.segments.append(try Segment.create(directory: directory, baseOffset: next))
        state.directoryDirty = true
        logger.debug("rolled a new segment", metadata: ["tern_offset": "\(next)"])
    }

    /// Starts a new segment now (for tests and for operations that want a sealed segment).
    public func roll() throws {
        try state.withLock { state in
            guard state.segments[state.segments.count - 1].size > 0 else { return }
            try roll(&state)
        }
    }

    // MARK: read

    /// Whole batches starting with the one holding `offset`, from one segment, up to about
    /// `maxBytes` (at least the first whole batch, so consumers always progress; the region may
    /// end inside a batch, which readers skip), never reaching `maxOffset` or beyond.
    /// - Throws: `offsetOutOfRange` when `offset` is below the log start or above the log end.
    public func read(from offset: Int64, maxBytes: Int, maxOffset: Int64) throws -> ReadResult {
        // Locate under the lock; read the file without it.
        let located: (segments: [(Segment, Int64)], start: Int64, end: Int64)? = try state.withLock { state in
            let end = state.segments[state.segments.count - 1].nextOffset
            guard offset >= state.logStartOffset && offset <= end else {
                throw StorageError(
                    .offsetOutOfRange,
                    "\(topicPartition): offset \(offset) is outside \(state.logStartOffset)...\(end)")
            }
            guard offset < min(end, maxOffset) else { return nil }
            guard var index = Self.segmentIndex(state.segments, containing: offset) else { return nil }
            var found: [(Segment, Int64)] = []
            // The offset may sit in a gap at the end of a segment; the next segment then serves it.
            while index < state.segments.count {
                let segment = state.segments[index]
                let position =
                    found.isEmpty
                    ? segment.offsetIndex.position(
                        forRelativeOffset: UInt32(truncatingIfNeeded: max(0, offset - segment.baseOffset))) : 0
                found.append((segment, position))
                index += 1
                if found.count == 2 { break }
            }
            return (found, state.logStartOffset, end)
        }
        guard let located else {
            return ReadResult(slices: [], byteCount: 0, logStartOffset: logStartOffset, logEndOffset: logEndOffset)
        }
        for (segment, position) in located.segments {
            if let slice = try Self.slice(segment, from: position, offset: offset, maxBytes: maxBytes, maxOffset: maxOffset) {
                return ReadResult(
                    slices: [slice], byteCount: slice.count, logStartOffset: located.start, logEndOffset: located.end)
            }
        }
        return ReadResult(slices: [], byteCount: 0, logStartOffset: located.start, logEndOffset: located.end)
    }

    /// The region of `segment` holding the batch with `offset` and what follows it.
    private static func slice(
        _ segment: Segment, from position: Int64, offset: Int64, maxBytes: Int, maxOffset: Int64
    ) throws -> LogSlice? {
        var scanner = BatchScanner(file: segment.file, fileSize: segment.size, from: position, verifyCRC: false)
        var start: Int64?
        var firstSize = 0
        var end = segment.size
        while let entry = try scanner.next() {
            if start == nil {
                guard entry.header.lastOffset >= offset else { continue }
                guard entry.header.baseOffset < maxOffset else { return nil }
                start = entry.position
                firstSize = entry.header.totalSize
                if maxOffset >= segment.nextOffset { break }  // everything after is below maxOffset
            } else if entry.header.baseOffset >= maxOffset {
                end = entry.position
                break
            } else if entry.position - (start ?? 0) >= Int64(maxBytes) {
                break
            }
        }
        guard let start else { return nil }
        let count = Int(min(end - start, Int64(max(maxBytes, firstSize))))
        return LogSlice(file: segment.file, position: start, count: count)
    }

    static func segmentIndex(_ segments: [Segment], containing offset: Int64) -> Int? {
        var low = 0
        var high = segments.count - 1
        var found: Int?
        while low <= high {
            let mid = (low + high) / 2
            if segments[mid].baseOffset <= offset {
                found = mid
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return found ?? (segments.isEmpty ? nil : 0)
    }

    /// The first offset whose record timestamp is at or after `timestamp`, with that record's
    /// timestamp; nil when every record is older.
    public func offsetForTimestamp(_ timestamp: Int64) throws -> (offset: Int64, timestamp: Int64)? {
        let candidates: [(Segment, Int64)] = state.withLock { state in
            state.segments.filter { $0.maxTimestamp >= timestamp }.map { segment in
                let relative = segment.timeIndex.startOffset(before: timestamp)
                return (segment, segment.offsetIndex.position(forRelativeOffset: relative))
            }
        }
        let start = logStartOffset
        for (segment, position) in candidates {
            var scanner = BatchScanner(file: segment.file, fileSize: segment.size, from: position, verifyCRC: false)
            while let entry = try scanner.next() {
                guard entry.header.maxTimestamp >= timestamp, entry.header.lastOffset >= start else { continue }
                let bytes = try FileSystem.pread(
                    segment.file.fd, count: entry.header.totalSize, at: entry.position, path: segment.file.path)
                var records: [Record] = []
                try RecordBatchDecoder.decode(bytes, minOffset: start, into: &records)
                if let record = records.first(where: { $0.timestamp >= timestamp }) {
                    return (record.offset, record.timestamp)
                }
            }
        }
        return nil
    }

    // MARK: truncate, flush, close

    /// Removes every batch at or after `offset` (cut at the batch boundary at or below it).
    public func truncate(to offset: Int64) throws {
        try state.withLock { state in
            guard offset < state.segments[state.segments.count - 1].nextOffset else { return }
            while state.segments.count > 1, state.segments[state.segments.count - 1].baseOffset >= offset {
                let removed = state.segments.removeLast()
                try removed.deleteFiles()
            }
            let last = state.segments.count - 1
            var segment = state.segments[last]
            var scanner = BatchScanner(file: segment.file, fileSize: segment.size, from: 0, verifyCRC: false)
            var rebuilt = Segment(
                baseOffset: segment.baseOffset, file: segment.file, directory: directory, size: 0, flushedSize: 0,
                nextOffset: segment.baseOffset, createdAtMs: segment.createdAtMs)
            while let entry = try scanner.next(), entry.header.lastOffset < offset {
                rebuilt.record(entry.header, at: entry.position, indexIntervalBytes: state.config.indexIntervalBytes)
                rebuilt.size = entry.position + Int64(entry.header.totalSize)
            }
            try FileSystem.truncate(segment.file.fd, to: rebuilt.size, path: segment.file.path)
            rebuilt.flushedSize = min(segment.flushedSize, rebuilt.size)
            segment = rebuilt
            state.segments[last] = segment
            state.recoveryPoint = min(state.recoveryPoint, segment.nextOffset)
            if state.segments.count == 1 && segment.size == 0 { state.logStartOffset = min(state.logStartOffset, offset) }
            logger.info("truncated log", metadata: ["tern_offset": "\(segment.nextOffset)"])
        }
    }

    /// fdatasyncs everything appended so far (and the directory when a segment file was created)
    /// and advances the recovery point.
    public func flush() throws {
        let (files, end, directoryDirty): ([(SegmentFile, Int64, Int64)], Int64, Bool) = state.withLock { state in
            let dirty = state.segments.filter { $0.size > $0.flushedSize }.map { ($0.file, $0.baseOffset, $0.size) }
            defer { state.directoryDirty = false }
            return (dirty, state.segments[state.segments.count - 1].nextOffset, state.directoryDirty)
        }
        do {
            for (file, _, _) in files { try FileSystem.fdatasync(file.fd, path: file.path) }
            if directoryDirty { try FileSystem.fsyncDirectory(directory) }
        } catch {
            if directoryDirty { state.withLock { $0.directoryDirty = true } }
            throw error
        }
        state.withLock { state in
            for (_, base, size) in files {
                if let i = state.segments.firstIndex(where: { $0.baseOffset == base }) {
                    state.segments[i].flushedSize = max(state.segments[i].flushedSize, size)
                }
            }
            state.recoveryPoint = max(state.recoveryPoint, end)
        }
    }

    /// True when appends are waiting for a flush.
    var needsFlush: Bool {
        state.withLock { state in state.directoryDirty || state.segments.contains { $0.size > $0.flushedSize } }
    }

    /// Flushes, writes the index files and closes the log; later calls throw `closed`.
    public func close() throws {
        try flush()
        try state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            try state.segments[state.segments.count - 1].writeIndexes()
        }
    }
}
