import Logging
import Synchronization
import TernWire

extension PartitionLog {
    /// A non-active segment as a cleaning saw it (the files are immutable below their size).
    /// Its file is opened only while the cleaning reads it.
    struct CleanSource {
        var baseOffset: Int64
        var handle: SegmentHandle
        var size: Int64
        var nextOffset: Int64
        var maxTimestamp: Int64
    }

    /// The dirty share of the log, for choosing which log to clean.
    public func cleanableStats(upperBound: Int64 = .max, nowMs: Int64 = 0) -> CleanableStats {
        state.withLock { state in
            let firstDirty = max(state.firstDirtyOffset, state.logStartOffset)
            let bound = Self.cleanableBound(state, upperBound: upperBound)
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
            return CleanableStats(
                cleanBytes: clean, dirtyBytes: dirty, firstDirtyOffset: firstDirty, tombstonesDue: due)
        }
    }

    /// Compacts the log: maps each key of the dirty section (from the cleaner checkpoint up to
    /// the active segment, the recovery point or `options.upperBound`, whichever is lowest) to
    /// its latest offset in `map`, then rewrites
    /// every segment from the log start up to where the map ends, keeping only records that no
    /// later record of the same key supersedes, and dropping tombstones older than
    /// `options.deleteRetentionMs`. Kept records keep their offsets, timestamps and headers;
    /// gzip batches are recompressed.
    ///
    /// As in Kafka, consecutive segments are grouped so that a group's cleaned output fits one
    /// segment (`segment.bytes`, and offsets and positions the indexes can hold), and each group
    /// becomes one cleaned segment, swapped in crash-safely: a segment is cleaned into the
    /// previous group's output when the two surely fit, otherwise into a new output that joins the
    /// previous one when it turns out small enough (its bytes copied once) or else starts the next
    /// group. A group whose output is empty is removed without a replacement, unless it starts the
    /// log (the first segment's base offset is what a restart takes as the log start, so an empty
    /// segment keeps it).
    ///
    /// Reads and appends continue meanwhile: the segment list is swapped under the log's lock
    /// (without any fsync), and reads already planned keep the old files open until they finish.
    /// - Returns: nil when there was nothing to clean, or when the log changed under the cleaning
    ///   (groups swapped in before that stay).
    /// - Throws: `corruptLog` for a batch that fails its checks, `ioError`, `closed`, or
    ///   `cancelled` when `shouldStop` said so; the log is unchanged except for groups already
    ///   swapped in.
    public func clean(using map: OffsetMap, options: CleaningOptions, shouldStop: () -> Bool = { false }) throws
        -> CleaningResult?
    {
        let started = FileSystem.monotonicMilliseconds()
        // Swapped-in segments come without key index files: write them once the cleaning ends.
        defer { if keyIndexBits.load(ordering: .relaxed) >= 0 { sealKeyIndexes() } }
        guard var plan = try planCleaning(using: map, options: options, shouldStop: shouldStop) else { return nil }
        var cleaner = SegmentCleaner(
            directory: directory, topicPartition: topicPartition, map: map, options: options,
            indexIntervalBytes: plan.indexIntervalBytes)
        let limit = Int64(plan.segmentBytes)
        // The output being filled, and one being written that may still join it; both are
        // discarded if the cleaning fails.
        var current: SegmentCleaner.Output?
        var pending: SegmentCleaner.Output?
        do {
            for source in plan.sources {
                if shouldStop() { throw StorageError(.cancelled, "\(topicPartition): cleaning stopped") }
                plan.result.bytesRead += source.size
                // Surely fits: the cleaned bytes are at most the source's.
                if var output = current, output.canIndex(source, adding: source.size),
                    output.size + source.size <= limit
                {
                    try cleaner.add(source, to: &output, shouldStop: shouldStop)
                    current = output
                    continue
                }
                var next = try cleaner.begin(base: source.baseOffset)
                pending = next
                try cleaner.add(source, to: &next, shouldStop: shouldStop)
                pending = next
                if var output = current, output.canIndex(source, adding: next.size), output.size + next.size <= limit {
                    try cleaner.append(&next, to: &output)
                    current = output
                    SegmentCleaner.discard(next)
                } else if let output = current {
                    current = nil
                    guard try finishGroup(output, cleaner: cleaner, result: &plan.result) else {
                        SegmentCleaner.discard(next)
                        return nil
                    }
                    current = next
                } else {
                    current = next
                }
                pending = nil
            }
            if let output = current {
                current = nil
                guard try finishGroup(output, cleaner: cleaner, result: &plan.result) else { return nil }
            }
        } catch {
            if let output = current { SegmentCleaner.discard(output) }
            if let output = pending { SegmentCleaner.discard(output) }
            // A segment left the log (retention) while it was being cleaned: try again later.
            if let failure = error as? StorageError, failure.code == .notFound, !state.withLock({ $0.deleted }) {
                logger.info("the log changed while it was cleaned; it will be cleaned again later")
                return nil
            }
            throw error
        }
        plan.result.recordsRemoved = cleaner.recordsRemoved
        plan.result.tombstonesRemoved = cleaner.tombstonesRemoved
        let tombstonesDue = cleaner.tombstonesDueMs
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
                "tern_segments_replaced": "\(result.segmentsReplaced)",
                "tern_segments_written": "\(result.segmentsWritten)",
                "tern_first_dirty_offset": "\(result.firstDirtyOffset)",
                "tern_duration_ms": "\(FileSystem.monotonicMilliseconds() - started)",
                "tern_map_keys": "\(map.count)",
            ])
        return result
    }

    /// Writes out a group's cleaned segment and swaps it in (or removes the group when it came
    /// out empty); false when the log changed under the cleaning.
    private func finishGroup(_ output: SegmentCleaner.Output, cleaner: SegmentCleaner, result: inout CleaningResult)
        throws -> Bool
    {
        var output = output
        let group = output.sources
        let cleaned: Segment
        do {
            cleaned = try cleaner.finish(&output)
        } catch {
            SegmentCleaner.discard(output)
            throw error
        }
        let startsLog = state.withLock { $0.segments.first?.baseOffset == cleaned.baseOffset }
        let swapped: Bool
        if cleaned.size == 0 && !startsLog {
            SegmentCleaner.discard(output)
            swapped = try remove(group)
        } else {
            swapped = try swapIn(cleaned, replacing: group)
        }
        guard swapped else {
            logger.info("the log changed while it was cleaned; it will be cleaned again later")
            return false
        }
        result.bytesWritten += cleaned.size
        result.segmentsReplaced += group.count
        if cleaned.size > 0 || startsLog { result.segmentsWritten += 1 }
        return true
    }

    /// Where cleaning stops: the active segment's base, the caller's bound, and the recovery
    /// point. Below the recovery point every byte is fsynced; above it a crash can take records
    /// back, and a cleaning that used them (a record removed because a later one of its key
    /// supersedes it, in a group swapped in durably while the later record's segment was not yet
    /// synced) would lose both. A rolled segment is synced by the background flusher soon after
    /// the roll, so this holds cleaning back only briefly.
    static func cleanableBound(_ state: State, upperBound: Int64) -> Int64 {
        min(state.segments[state.activeIndex].baseOffset, upperBound, state.recoveryPoint)
    }

    /// What a cleaning will rewrite: the map is built, the segments are chosen.
    struct CleaningPlan {
        /// The segments to rewrite, oldest first (grouped as they are cleaned).
        var sources: [CleanSource]
        var segmentBytes: Int
        /// Where the map ends: the new cleaner checkpoint.
        var end: Int64
        var indexIntervalBytes: Int
        var result: CleaningResult
    }

    /// Builds the offset map and chooses the segments to rewrite; nil when nothing needs it.
    func planCleaning(using map: OffsetMap, options: CleaningOptions, shouldStop: () -> Bool) throws -> CleaningPlan? {
        let (sources, start, config) = try state.withLock { state -> ([CleanSource], Int64, LogConfig) in
            try checkUsable(state)
            let bound = Self.cleanableBound(state, upperBound: options.upperBound)
            let sources = state.segments.dropLast().filter { $0.nextOffset <= bound }.map {
                CleanSource(
                    baseOffset: $0.baseOffset, handle: $0.handle, size: $0.size, nextOffset: $0.nextOffset,
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
            sources: cleanable, segmentBytes: config.segmentBytes, end: end,
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
            let file = try source.handle.open()
            var scanner = BatchScanner(file: file, limit: source.size, from: 0, verifyCRC: true)
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
                        try Self.forEachRecord(batch, header: header, plain: &plain, file: file, at: entry.position) {
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
                    .corruptLog, "\(topicPartition): \(file.path) at position \(stop.position): \(stop.reason)")
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
                .corruptLog,
                "\(file.path): batch at position \(position) (offset \(header.baseOffset)): \(error.message)")
        }
    }
}
