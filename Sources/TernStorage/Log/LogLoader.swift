import Logging
import TernWire

/// Opens one partition directory: lists its segments, loads or rebuilds their indexes, and after
/// an unclean stop scans every segment from the one holding the recovery point on. A corrupt
/// stretch with good batches after it is salvaged: its bytes move to a `.corrupt` file beside the
/// segment, its offsets become a gap, and everything after it stays. A bad tail with nothing
/// valid after it (what a crash mid-write leaves) is cut off.
struct LogLoader {
    let topicPartition: TopicPartition
    let directory: String
    /// True when the log directory had its clean-shutdown marker.
    let clean: Bool
    /// The checkpointed recovery point (nil: none, so everything is scanned after an unclean stop).
    let recoveryPoint: Int64?
    let logStartOffset: Int64?
    /// The checkpointed first dirty offset of the cleaner (nil: none).
    var cleanerCheckpoint: Int64? = nil
    /// Where the loaded log asks for background flushes.
    var flushRequests: FlushRequests? = nil
    let config: LogConfig
    let logger: Logger
    let syncCounter: SyncCounter

    func load(stats: inout RecoveryStats) throws -> PartitionLog {
        var logger = logger
        logger[metadataKey: "tern_topic"] = "\(topicPartition.topic)"
        logger[metadataKey: "tern_partition"] = "\(topicPartition.partition)"
        stats.logsOpened += 1
        if !clean { stats.logsRecovered += 1 }

        let (swapped, swapChanged) = try SwapFiles.recover(directory: directory) { logger.warning("\($0)") }
        let bases = try segmentBases()
        var segments: [Segment] = []
        var scanned: [Segment] = []
        var directoryChanged = swapChanged
        for (i, base) in bases.enumerated() {
            let nextBase = i + 1 < bases.count ? bases[i + 1] : Int64.max
            // Below the recovery point everything was flushed: trust the indexes there.
            // A segment a finished swap produced gets its indexes rebuilt.
            let trusted = !swapped.contains(base) && (clean || recoveryPoint.map { nextBase <= $0 } ?? false)
            var mode: Segment.LoadMode = trusted ? .trustIndexes : .scan
            // The segment holding the recovery point: only what follows the point is scanned.
            if !trusted, !swapped.contains(base), let point = recoveryPoint, point > base, point < nextBase {
                mode = .scanFrom(recoveryPoint: point)
            }
            let outcome = try Segment.load(
                directory: directory, baseOffset: base, mode: mode,
                indexIntervalBytes: config.indexIntervalBytes, nextBaseOffset: nextBase)
            let segment = outcome.segment
            stats.batchesChecked += outcome.batchesChecked
            stats.bytesRead += Int64(outcome.bytesRead)
            if outcome.scannedFully {
                stats.segmentsScanned += 1
                scanned.append(segment)
            }
            if let problem = outcome.indexProblem {
                stats.indexesRebuilt += 1
                logger.warning("rebuilt the indexes of \(segment.logPath): \(problem)")
            }
            if let previous = segments.last, previous.nextOffset > base {
                // Overlapping segments: the later one cannot be right.
                let reason = "segment starts at \(base) but the one before ends at \(previous.nextOffset)"
                logger.warning(
                    "truncating \(segment.logPath) at position 0 (offset \(previous.nextOffset)): \(reason)",
                    metadata: ["tern_file": "\(segment.logPath)", "tern_position": "0", "tern_offset": "\(base)"])
                stats.truncations += 1
                try deleteSegments(bases[i...], logger: logger, stats: &stats)
                directoryChanged = true
                break
            }
            segments.append(segment)
            for region in outcome.salvaged { report(region, in: segment, logger: logger, stats: &stats) }
            if let cut = outcome.truncation {
                stats.truncations += 1
                let message = "truncating \(segment.logPath) at position \(cut.position) (offset \(segment.nextOffset))"
                logger.warning(
                    "\(message): \(cut.reason)",
                    metadata: [
                        "tern_file": "\(segment.logPath)", "tern_position": "\(cut.position)",
                        "tern_offset": "\(segment.nextOffset)",
                    ])
                // Nothing after a torn or corrupt batch can be trusted.
                try deleteSegments(bases[(i + 1)...], logger: logger, stats: &stats)
                directoryChanged = true
                break
            }
        }
        if segments.isEmpty {
            segments.append(try Segment.create(directory: directory, baseOffset: max(logStartOffset ?? 0, 0)))
            directoryChanged = true
        }
        // What was scanned may exist only in the page cache (the process died, not the machine):
        // sync it before calling it recovered.
        for segment in scanned where segment.size > 0 {
            try FileSystem.fdatasync(segment.file.fd, path: segment.logPath)
            syncCounter.add(1)
        }
        // The entries of segments created since the last flush may be in the page cache only,
        // like their data: sync the directory too, or a power loss could drop a whole segment
        // that was just reported recovered (replicas count it durable from here on).
        if directoryChanged || !scanned.isEmpty { try FileSystem.fsyncDirectory(directory) }
        try loadKeyIndexes(&segments, swapped: swapped, logger: logger, stats: &stats)
        let end = segments[segments.count - 1].nextOffset
        let producers = try ProducerStateLoader.rebuild(
            directory: directory, segments: segments, logEndOffset: end, logger: logger)
        stats.producerBatchesReplayed += producers.batchesReplayed
        let first = segments[0].baseOffset
        let start = min(max(logStartOffset ?? first, first), end)
        let epochs = try loadEpochs(segments, start: start, end: end, logger: logger)
        return PartitionLog(
            topicPartition: topicPartition, directory: directory, segments: segments, logStartOffset: start,
            recoveryPoint: end, config: config, logger: self.logger, syncCounter: syncCounter,
            firstDirtyOffset: min(max(cleanerCheckpoint ?? 0, start), end), flushRequests: flushRequests,
            producers: producers.table, epochs: epochs)
    }

    /// Logs a salvaged region at error level (file, position, offsets lost, where its bytes went)
    /// and counts it.
    private func report(_ region: CorruptRegion, in segment: Segment, logger: Logger, stats: inout RecoveryStats) {
        let lost =
            region.nextKeptOffset.map { "offsets \(region.firstLostOffset)..<\($0)" }
            ?? "offsets from \(region.firstLostOffset) to the end of the segment"
        logger.error(
            """
            corrupt data in \(segment.logPath) at position \(region.position) (\(region.length) bytes): \
            \(region.reason); \(lost) are lost, the batches after it are kept; its bytes are in \(region.savedAs)
            """,
            metadata: [
                "tern_file": "\(segment.logPath)", "tern_position": "\(region.position)",
                "tern_offset": "\(region.firstLostOffset)",
                "tern_next_offset": "\(region.nextKeptOffset.map { "\($0)" } ?? "none")",
                "tern_corrupt_file": "\(region.savedAs)",
            ])
        stats.corruptRegions += 1
        stats.corruptBytes += region.length
        StorageMetrics.recordCorrupt(bytes: region.length)
    }

    /// Base offsets of the segment files, oldest first; removes leftovers of interrupted writes
    /// and index files without a log (``SwapFiles`` has already dealt with cleaner files).
    private func segmentBases() throws -> [Int64] {
        let names = try FileSystem.list(directory)
        var bases = Set<Int64>()
        for name in names {
            if let base = Segment.baseOffset(fromFileName: name, suffix: ".log") { bases.insert(base) }
        }
        for name in names {
            let path = directory + "/" + name
            if name.hasSuffix(".tmp") {
                try FileSystem.unlink(path)
            } else if let base = Segment.baseOffset(fromFileName: name, suffix: ".index")
                ?? Segment.baseOffset(fromFileName: name, suffix: ".timeindex")
                ?? Segment.baseOffset(fromFileName: name, suffix: ".keyindex"), !bases.contains(base)
            {
                try FileSystem.unlink(path)
            }
        }
        return bases.sorted()
    }

    private func deleteSegments(_ bases: ArraySlice<Int64>, logger: Logger, stats: inout RecoveryStats) throws {
        for base in bases {
            let path = directory + "/" + Segment.fileName(base, ".log")
            logger.warning("deleting \(path): it follows the truncation point", metadata: ["tern_file": "\(path)"])
            for suffix in [".log", ".index", ".timeindex", ".keyindex"] {
                try FileSystem.unlink(directory + "/" + Segment.fileName(base, suffix))
            }
            stats.segmentsDeleted += 1
        }
    }
}
