import Logging
import TernWire

extension LogLoader {
    /// The leader-epoch history of a loaded log: the checkpoint trimmed to the log's
    /// `start..<end`, or, when the file is missing, unreadable, or its latest epoch is not the
    /// last batch's, rebuilt from the batches' `partitionLeaderEpoch` and written again.
    func loadEpochs(_ segments: [Segment], start: Int64, end: Int64, logger: Logger) throws -> LeaderEpochCache {
        var stored: [EpochEntry]?
        do {
            stored = try LeaderEpochCheckpoint.read(directory: directory)
            if stored == nil, end > start { logger.info("no leader-epoch checkpoint: rebuilding it from the log") }
        } catch let error as StorageError where error.code == .corruptLog {
            logger.warning("rebuilding the leader-epoch checkpoint from the log: \(error.message)")
        }
        var cache = LeaderEpochCache(stored ?? [])
        var changed = false
        if stored != nil {
            changed = cache.truncateFromEnd(endOffset: end)
            changed = cache.truncateFromStart(startOffset: start) || changed
            if end <= start, !cache.entries.isEmpty {
                cache = LeaderEpochCache()
                changed = true
            }
            if let last = try Self.lastBatch(segments), last.epoch >= 0,
                cache.latestEpoch != last.epoch || (cache.entries.last?.startOffset ?? .max) > last.baseOffset
            {
                let latest = cache.latestEpoch.map { "\($0)" } ?? "none"
                logger.warning(
                    "the leader-epoch checkpoint ends at epoch \(latest) but the last batch (offset \(last.baseOffset)) has epoch \(last.epoch): rebuilding it"
                )
                stored = nil
            }
        }
        if stored == nil {
            cache = try Self.rebuildEpochs(segments, start: start)
            changed = true
        }
        // An empty log without a checkpoint needs none: no file (and no fsyncs) for it at every start.
        if changed, stored != nil || !cache.entries.isEmpty {
            try LeaderEpochCheckpoint.write(cache.entries, directory: directory)
        }
        return cache
    }

    /// The epoch history of `segments` from their batch headers. A segment whose first and last
    /// batches have the same epoch holds only that epoch (epochs never decrease along a log), so
    /// only segments spanning an epoch change are scanned: opening an old log without a
    /// checkpoint reads two headers per segment, not the whole log.
    static func rebuildEpochs(_ segments: [Segment], start: Int64) throws -> LeaderEpochCache {
        var cache = LeaderEpochCache()
        for segment in segments where segment.size > 0 {
            let file = try segment.file
            var scanner = BatchScanner(file: file, limit: segment.size, from: 0, verifyCRC: false)
            guard let first = try scanner.next() else { continue }
            let last = try lastBatch(segment) ?? (first.header.partitionLeaderEpoch, first.header.baseOffset)
            if first.header.partitionLeaderEpoch == last.epoch {
                cache.assign(epoch: last.epoch, startOffset: max(first.header.baseOffset, start))
                continue
            }
            cache.assign(epoch: first.header.partitionLeaderEpoch, startOffset: max(first.header.baseOffset, start))
            while let entry = try scanner.next() {
                cache.assign(epoch: entry.header.partitionLeaderEpoch, startOffset: max(entry.header.baseOffset, start))
            }
        }
        cache.truncateFromStart(startOffset: start)
        return cache
    }

    /// The epoch and base offset of the log's last batch, nil when the log is empty.
    static func lastBatch(_ segments: [Segment]) throws -> (epoch: Int32, baseOffset: Int64)? {
        for segment in segments.reversed() where segment.size > 0 {
            if let last = try lastBatch(segment) { return last }
        }
        return nil
    }

    /// The epoch and base offset of a segment's last batch, found from the offset index entry at
    /// or below it (a scan of at most about `log.index.interval.bytes`).
    private static func lastBatch(_ segment: Segment) throws -> (epoch: Int32, baseOffset: Int64)? {
        guard segment.size > 0, let lastOffset = segment.lastBatchOffset else { return nil }
        let from = segment.offsetIndex.lookup(segment.relative(lastOffset))?.position ?? 0
        var scanner = BatchScanner(file: try segment.file, limit: segment.size, from: from, verifyCRC: false)
        var found: (epoch: Int32, baseOffset: Int64)?
        while let entry = try scanner.next() { found = (entry.header.partitionLeaderEpoch, entry.header.baseOffset) }
        return found
    }
}
