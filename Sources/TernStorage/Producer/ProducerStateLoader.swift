import Logging
import TernWire

/// Rebuilds a partition's ``ProducerStateTable`` when its log opens or is truncated: the newest
/// valid `<offset>.snapshot` at or below the log end, then every batch with a producer id from
/// that offset to the end (from the first segment when no snapshot is usable). Snapshots past the
/// log end (the log lost or cut what they describe) and damaged ones are deleted.
enum ProducerStateLoader {
    /// What a rebuild found.
    struct Outcome {
        var table = ProducerStateTable()
        /// The offset of the snapshot it started from; nil when it replayed the whole log.
        var snapshotOffset: Int64?
        /// Batches replayed after the snapshot.
        var batchesReplayed = 0
    }

    /// Offsets of the snapshot files in `directory`, ascending.
    static func snapshotOffsets(in directory: String) throws -> [Int64] {
        try FileSystem.list(directory).compactMap {
            Segment.baseOffset(fromFileName: $0, suffix: ProducerSnapshot.suffix)
        }.sorted()
    }

    /// Rebuilds the table for `segments` (oldest first) ending at `logEndOffset`. Replayed
    /// batches count as written at `nowMs`: the log keeps no append time (a batch's own
    /// timestamps are the producer's, possibly far in the past for replayed events), and a
    /// producer kept a little longer costs memory, one forgotten too early costs a failed send.
    static func rebuild(
        directory: String, segments: [Segment], logEndOffset: Int64, logger: Logger,
        nowMs: Int64 = FileSystem.wallClockMilliseconds()
    ) throws -> Outcome {
        var outcome = Outcome()
        for offset in try snapshotOffsets(in: directory).reversed() {
            let path = directory + "/" + ProducerSnapshot.fileName(offset)
            guard offset <= logEndOffset else {
                try FileSystem.unlink(path)
                continue
            }
            do {
                guard let bytes = try AtomicFile.readIfExists(path) else { continue }
                let decoded = try ProducerSnapshot.decode(bytes)
                guard decoded.offset == offset else {
                    throw StorageError(.corruptLog, "it holds offset \(decoded.offset)")
                }
                outcome.table = decoded.table
                outcome.snapshotOffset = offset
                break
            } catch {
                logger.warning(
                    "ignoring a damaged producer snapshot; rebuilding producer state from the log",
                    metadata: ["tern_file": "\(path)", "error": "\(error)"])
                try FileSystem.unlink(path)
            }
        }
        let from = outcome.snapshotOffset ?? Int64.min
        for segment in segments where segment.nextOffset > from {
            var position: Int64 = 0
            if from > segment.baseOffset {
                position =
                    segment.offsetIndex.lookup(UInt32(clamping: from - segment.baseOffset))?.position ?? 0
            }
            var scanner = BatchScanner(file: try segment.file, limit: segment.size, from: position, verifyCRC: false)
            while let entry = try scanner.next() {
                let header = entry.header
                guard header.lastOffset >= from, header.producerId >= 0, !header.isControl else { continue }
                outcome.table.record(
                    producerId: header.producerId, epoch: header.producerEpoch, firstSequence: header.baseSequence,
                    lastSequence: ProducerStateTable.sequence(header.baseSequence, plus: header.lastOffsetDelta),
                    firstOffset: header.baseOffset, lastOffset: header.lastOffset, timestampMs: nowMs)
                outcome.batchesReplayed += 1
            }
            if let stop = scanner.stop {
                throw StorageError(
                    .corruptLog,
                    "cannot rebuild producer state from \(segment.logPath) at position \(stop.position): \(stop.reason)"
                )
            }
        }
        return outcome
    }

    /// Writes a snapshot of `table` at `offset` (write, fsync, rename, fsync the directory) and
    /// deletes all but the newest `keep` snapshots.
    static func writeSnapshot(_ table: ProducerStateTable, offset: Int64, directory: String, keep: Int = 2) throws {
        try AtomicFile.write(
            directory + "/" + ProducerSnapshot.fileName(offset), bytes: ProducerSnapshot.encode(table, offset: offset))
        let offsets = try snapshotOffsets(in: directory)
        for old in offsets.dropLast(keep) { try FileSystem.unlink(directory + "/" + ProducerSnapshot.fileName(old)) }
    }
}
