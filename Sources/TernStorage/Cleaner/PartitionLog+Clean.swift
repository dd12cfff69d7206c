import Logging
import Synchronization
import TernWire

extension PartitionLog {
    /// A non-active segment as a cleaning saw it (the files are immutable below their size).
    struct CleanSource {
        var baseOffset: Int64
        var file: SegmentFile
        var size: Int64
        var nextOffset: Int64
        var maxTimestamp: Int64
    }

    /// The dirty share of the log, for choosing which log to clean.
    public func cleanableStats(upperBound: Int64 = .max, nowMs: Int64 = 0) -> CleanableStats {
        state.withLock { state in
            let firstDirty = max(state.firstDirtyOffset, state.logStartOffset)
            let bound = min(state.segments[state.activeIndex].baseOffset, upperBound)
            var clean: Int64 = 0
            var dirty: Int64 = 0
            for segment in state.segments.dropLast() {
                if segment.nextOffset <= firstDirty || segment.size == 0 && segment.baseOffset < firstDirty {
                    clean += segment.size
                } else if segment.nextOffset <= bound {
                    dirty += segment.size
                }
            }
            let due = state.tombstonesDueMs.map { nowMs >= $0 } ?? false
            return CleanableStats(cleanBytes: clean, dirtyBytes: dirty, firstDirtyOffset: firstDirty, tombstonesDue: due)
        }
    }

    /// Compacts the log: maps each key of the dirty section (from the cleaner checkpoint up to
    /// the active segment or `options.upperBound`) to its latest offset in `map`, then rewrites
    /// every segment from the log start up to where the map ends, keeping only records that no
    /// later record of the same key supersedes, and dropping tombstones older than
    /// `options.deleteRetentionMs`. Kept records keep their offsets, timestamps and headers;
    /// small segments are merged up to `segment.bytes`; gzip batches are recompressed. Each
    /// group of segments is written to `.cleaned` files and swapped in crash-safely.
    ///
    /// Reads and appends continue meanwhile: the segment list is swapped under the log's lock,
    /// and reads already planned keep the old files open until they finish.
    /// - Returns: nil when there was nothing to clean.
    /// - Throws: `corruptLog` for a batch that fails its checks, `ioError`, `closed`, or
    ///   `cancelled` when `shouldStop` said so; the log is unchanged except for groups already
    ///   swapped in.
    public func clean(using map: OffsetMap, options: CleaningOptions, shouldStop: () -> Bool = { false }) throws
        -> CleaningResult?
    {
        let started = FileSystem.monotonicMilliseconds()
        guard var plan = try planCleaning(using: map, options: options, shouldStop: shouldStop) else { return nil }
        var tombstonesDue: Int64?
        for group in plan.groups {
            if shouldStop() { throw StorageError(.cancelled, "\(topicPartition): cleaning stopped") }
            var cleaner = SegmentCleaner(
                directory: directory, topicPartition: topicPartition, map: map, options: options,
                indexIntervalBytes: plan.indexIntervalBytes)
            let cleaned = try cleaner.clean(group, shouldStop: shouldStop)
            plan.result.bytesRead += group.reduce(0) { $0 + $1.size }
            plan.result.recordsRemoved += cleaner.recordsRemoved
            plan.result.tombstonesRemoved += cleaner.tombstonesRemoved
            if let due = cleaner.tombstonesDueMs { tombstonesDue = min(tombstonesDue ?? .max, due) }
            guard try swapIn(cleaned, replacing: group) else {
                logger.info("the log changed while it was cleaned; it will be cleaned again later")
                return nil
            }
            plan.result.bytesWritten += cleaned.size
            plan.result.segmentsReplaced += group.count
            plan.result.segmentsWritten += 1
        }
        var result = plan.result
        result.firstDirtyOffset = state.withLock { state in
            state.firstDirtyOffset = max(state.firstDirtyOffset, plan.end, state.logStartOffset)
            state.lastCleanedMs = options.nowMs
            state.tombstonesDueMs = tombstonesDue
            return state.firstDirtyOffset
        }
        logger.info(
            "cleaned the log",
            metadata: [
                "tern_dirty_bytes": "\(result.dirtyBytes)", "tern_bytes_read": "\(result.bytesRead)",
                "tern_bytes_written": "\(result.bytesWritten)", "tern_records_removed": "\(result.recordsRemoved)",
                "tern_tombstones_removed": "\(result.tombstonesRemoved)",
                "tern_first_dirty_offset": "\(result.firstDirtyOffset)",
                "tern_duration_ms": "\(FileSystem.monotonicMilliseconds() - started)",
                "tern_map_keys": "\(map.count)",
            ])
        return result
    }

    /// What a cleaning will rewrite: the map is built, the groups are chosen.
    struct CleaningPlan {
        var groups: [[CleanSource]]
        /// Where the map ends: the new cleaner checkpoint.
        var end: Int64
        var indexIntervalBytes: Int
        var result: CleaningResult
    }

    /// Builds the offset map and groups the segments to rewrite; nil when nothing needs it.
    func planCleaning(using map: OffsetMap, options: CleaningOptions, shouldStop: () -> Bool) throws -> CleaningPlan? {
        let (sources, start, config) = try state.withLock { state -> ([CleanSource], Int64, LogConfig) in
            try checkUsable(state)
            let bound = min(state.segments[state.activeIndex].baseOffset, options.upperBound)
            let sources = state.segments.dropLast().filter { $0.nextOffset <= bound }.map {
                CleanSource(
                    baseOffset: $0.baseOffset, file: $0.file, size: $0.size, nextOffset: $0.nextOffset,
                    maxTimestamp: $0.maxTimestamp)
            }
            return (sources, max(state.firstDirtyOffset, state.logStartOffset), state.config)
        }
        var result = CleaningResult()
        let end = try buildOffsetMap(map, sources: sources, from: start, result: &result, shouldStop: shouldStop)
        guard end > start || (options.force && !sources.isEmpty) else { return nil }
        // Everything from the log start up to where the map ends; records at or past `end` in
        // the last of these segments are kept (the map knows nothing newer of their keys).
        let cleanable = Array(sources.prefix { $0.baseOffset < max(end, start) || $0.nextOffset <= start })
        guard !cleanable.isEmpty else { return nil }
        return CleaningPlan(
            groups: Self.groups(cleanable, segmentBytes: config.segmentBytes), end: end,
            indexIntervalBytes: config.indexIntervalBytes, result: result)
    }

    /// Maps the keys of the dirty batches from `start` on; returns the offset where the map
    /// ends (past the last batch mapped), which is `start` when nothing was.
    private func buildOffsetMap(
        _ map: OffsetMap, sources: [CleanSource], from start: Int64, result: inout CleaningResult,
        shouldStop: () -> Bool
    ) throws -> Int64 {
        map.clear()
        var end = start
        var plain: [UInt8] = []
        for source in sources where source.nextOffset > start {
            var scanner = BatchScanner(file: source.file, limit: source.size, from: 0, verifyCRC: true)
            while let entry = try scanner.next() {
                let header = entry.header
                guard header.lastOffset >= start else { continue }
                if shouldStop() { throw StorageError(.cancelled, "\(topicPartition): cleaning stopped") }
                if !header.isControl {
                    guard map.hasRoom(for: Int(header.recordCount)) else {
                        guard map.count > 0 else {
                            throw StorageError(
                                .corruptLog,
                                "\(topicPartition): the batch at offset \(header.baseOffset) has \(header.recordCount) "
                                    + "records, more than the cleaner's map holds (\(map.maxEntries) keys); "
                                    + "raise log.cleaner.dedupe.buffer.size")
                        }
                        result.mapFilled = true
                        return end
                    }
                    try scanner.withLastBatch(entry) { batch in
                        try Self.forEachRecord(batch, header: header, plain: &plain, file: source.file, at: entry.position) {
                            records, record in
                            guard let key = record.key else { return }
                            let offset = header.baseOffset + Int64(record.offsetDelta)
                            guard offset >= start else { return }
                            map.put(KeyHash(UnsafeRawBufferPointer(rebasing: records[key])), offset: offset)
                        }
                    }
                }
                result.dirtyBytes += Int64(header.totalSize)
                end = header.lastOffset + 1
            }
            if let stop = scanner.stop {
                throw StorageError(
                    .corruptLog, "\(topicPartition): \(source.file.path) at position \(stop.position): \(stop.reason)")
            }
            end = max(end, source.nextOffset)
        }
        return end
    }

    /// Calls `body` with the record bytes of `batch` (inflated into `plain` when gzip) and each record.
    static func forEachRecord(
        _ batch: UnsafeRawBufferPointer, header: RecordBatchHeader, plain: inout [UInt8], file: SegmentFile,
        at position: Int64, _ body: (UnsafeRawBufferPointer, RecordView) throws -> Void
    ) throws {
        do {
            switch header.compression {
            case .some(.none):
                try RecordIterator.forEach(
                    in: batch, from: RecordBatchHeader.size, to: batch.count, recordCount: header.recordCount
                ) { try body(batch, $0) }
            case .some(.gzip):
                plain = try Gzip.decompress(
                    UnsafeRawBufferPointer(rebasing: batch[RecordBatchHeader.size...]),
                    limit: RecordBatchValidator.maxDecompressedBytes)
                try plain.withUnsafeBytes { raw in
                    try RecordIterator.forEach(in: raw, from: 0, to: raw.count, recordCount: header.recordCount) {
                        try body(raw, $0)
                    }
                }
            default:
                throw WireError(.unsupportedCompression, "compression \(header.attributes & 7) cannot be cleaned")
            }
        } catch let error as WireError {
            throw StorageError(
                .corruptLog, "\(file.path): batch at position \(position) (offset \(header.baseOffset)): \(error.message)")
        }
    }

    /// Consecutive segments merged while their total size stays within `segmentBytes` and their
    /// offsets within what one segment's indexes can hold.
    static func groups(_ sources: [CleanSource], segmentBytes: Int) -> [[CleanSource]] {
        var groups: [[CleanSource]] = []
        var current: [CleanSource] = []
        var size: Int64 = 0
        for source in sources {
            if let first = current.first,
                size + source.size > Int64(segmentBytes) || source.nextOffset - first.baseOffset > Int64(UInt32.max)
            {
                groups.append(current)
                current = []
                size = 0
            }
            current.append(source)
            size += source.size
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }
}
