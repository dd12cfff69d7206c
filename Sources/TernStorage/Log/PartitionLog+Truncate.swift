import Logging
import Synchronization
import TernWire

extension PartitionLog {
    /// Removes every batch holding an offset at or after `offset` (a batch is kept whole or not
    /// at all, so the log end becomes the base offset of the batch holding `offset`), deleting
    /// segments that start past it. For replication and recovery. Below the log start, the log is
    /// emptied and restarts at `offset`. Nothing happens when `offset` is at or past the log end.
    ///
    /// The contract (docs/architecture.md, "Truncation"): storage truncates wherever it is told;
    /// the caller — a follower acting on its leader's diverging epoch — must never ask to cut
    /// below its high watermark (what consumers may have read). When this returns the truncation
    /// is durable: the cut segment, its index files and the directory are synced, then the
    /// leader-epoch checkpoint is rewritten without the removed epochs, and the key index trimmed.
    /// A crash at any step leaves a log that opening makes consistent: newest segments are deleted
    /// first (a crash leaves a shorter prefix of them), a cut is one `ftruncate`, and an epoch
    /// checkpoint reaching past the log end is trimmed when the log is opened.
    ///
    /// Reads planned before the truncation never return bytes written after it at the same
    /// positions: each segment's read fence is bumped before its file is cut or deleted, and a
    /// ``LogSlice`` planned under an older fence reports ``LogSlice/isCurrent`` false (``read``
    /// retries; ``ReadResult/readBytes()`` and the broker's `sendfile` fail instead of sending).
    /// - Throws: `closed`, `ioError`, or `corruptLog` when the batches at the cut cannot be read.
    public func truncate(to offset: Int64) throws {
        try maintenanceLock.withLock { _ in try truncateHoldingMaintenanceLock(to: offset) }
    }

    private func truncateHoldingMaintenanceLock(to offset: Int64) throws {
        try state.withLock { state in
            try checkUsable(state)
            let oldEnd = state.logEndOffset
            guard offset < oldEnd else { return }
            state.generation &+= 1
            if offset < state.segments[0].baseOffset || offset < state.logStartOffset {
                try restart(&state, at: max(offset, 0))
            } else {
                while state.segments.count > 1, state.segments[state.activeIndex].baseOffset >= offset {
                    let removed = state.segments.removeLast()
                    removed.fenceReads()
                    try removed.deleteFiles()
                    state.directoryDirty = true
                }
                try cut(&state.segments[state.activeIndex], at: offset)
            }
            try syncTruncation(&state)
            try truncateKeyIndex(&state)
            // Batches the producer state recorded may be gone: rebuild it (snapshots past the new
            // end are deleted by the rebuild).
            try rebuildProducers(&state)
            state.recoveryPoint = min(state.recoveryPoint, state.logEndOffset)
            state.firstDirtyOffset = min(state.firstDirtyOffset, state.logEndOffset)
            try truncateEpochsFromEnd(&state)
            logger.info(
                "truncated the log to offset \(state.logEndOffset) (it ended at \(oldEnd))",
                metadata: ["tern_offset": "\(offset)"])
        }
    }

    /// Deletes every segment and restarts the log empty at `offset`, which becomes its log start
    /// (Kafka's `truncateFullyAndStartAt`): for a follower whose whole log lies below its
    /// leader's log start. The epoch history, producer state and key index go with the records.
    /// Durable when it returns, as ``truncate(to:)``: the directory is synced after the new
    /// segment is created, so a crash leaves the old log or the new one, and opening either is
    /// consistent (a leftover log start checkpoint below the new segment is raised to it).
    /// - Throws: `closed`, `ioError` (the log then goes offline).
    public func truncateFully(startingAt offset: Int64) throws {
        try maintenanceLock.withLock { _ in
            try state.withLock { state in
                try checkUsable(state)
                let oldStart = state.logStartOffset
                let oldEnd = state.logEndOffset
                state.generation &+= 1
                try restart(&state, at: max(offset, 0))
                try syncTruncation(&state)
                try truncateKeyIndex(&state)
                try rebuildProducers(&state)
                state.recoveryPoint = state.logEndOffset
                state.firstDirtyOffset = state.logEndOffset
                try truncateEpochsFromEnd(&state)
                logger.info(
                    "emptied the log (it held \(oldStart)..<\(oldEnd)); it starts at \(state.logStartOffset) now",
                    metadata: ["tern_offset": "\(state.logStartOffset)"])
            }
        }
    }

    /// Makes a truncation durable before anything records it elsewhere (the epoch checkpoint):
    /// the active segment's size and index files, and the directory when files went. Rare (a
    /// follower after a failover), so it runs under the lock. A failure takes the log offline,
    /// as a failed flush does.
    private func syncTruncation(_ state: inout State) throws {
        let active = state.segments[state.activeIndex]
        do {
            let file = try active.file
            try FileSystem.fdatasync(file.fd, path: file.path)
            try Segment.syncIndexFiles(directory: directory, baseOffset: active.baseOffset)
            var syncs = 1
            if state.directoryDirty {
                try FileSystem.fsyncDirectory(directory)
                state.directoryDirty = false
                syncs += 1
            }
            syncCounter.add(syncs)
        } catch let error as StorageError {
            state.failure = error
            throw error
        }
        state.segments[state.activeIndex].flushedSize = active.size
    }

    /// Cuts `segment` before the first batch holding an offset at or after `offset`.
    private func cut(_ segment: inout Segment, at offset: Int64) throws {
        let from = segment.offsetIndex.lookup(UInt32(clamping: max(0, offset - segment.baseOffset)))?.position ?? 0
        var scanner = BatchScanner(file: try segment.file, limit: segment.size, from: from, verifyCRC: false)
        while let entry = try scanner.next() {
            guard entry.header.lastOffset >= offset else { continue }
            segment.fenceReads()
            try segment.truncate(toPosition: entry.position, droppedOffset: entry.header.baseOffset)
            return
        }
        if let stop = scanner.stop {
            throw StorageError(
                .corruptLog, "cannot truncate \(segment.logPath): batch at position \(stop.position): \(stop.reason)")
        }
    }

    /// Deletes every segment and starts an empty one at `offset`, which becomes the log start.
    private func restart(_ state: inout State, at offset: Int64) throws {
        state.directoryDirty = true
        do {
            for segment in state.segments {
                segment.fenceReads()
                try segment.deleteFiles()
            }
            // Nothing the producer snapshots describe is left (Kafka clears producer state too).
            for old in try ProducerStateLoader.snapshotOffsets(in: directory) {
                try FileSystem.unlink(directory + "/" + ProducerSnapshot.fileName(old))
            }
            state.segments = [try Segment.create(directory: directory, baseOffset: offset)]
        } catch let error as StorageError {
            state.failure = error
            throw error
        }
        state.logStartOffset = offset
    }

    /// Moves the log start forward to `offset` (records below it are no longer served, as after a
    /// DeleteRecords request or retention), deleting the segments that lie wholly below it.
    /// - Throws: `offsetOutOfRange` past the log end; `closed`; `ioError`.
    public func advanceLogStartOffset(to offset: Int64) throws {
        try maintenanceLock.withLock { _ in try advanceLogStartOffsetHoldingMaintenanceLock(to: offset) }
    }

    private func advanceLogStartOffsetHoldingMaintenanceLock(to offset: Int64) throws {
        try state.withLock { state in
            try checkUsable(state)
            guard offset > state.logStartOffset else { return }
            guard offset <= state.logEndOffset else {
                throw StorageError(
                    .offsetOutOfRange,
                    "\(topicPartition): cannot start the log at \(offset), past its end \(state.logEndOffset)")
            }
            state.logStartOffset = offset
            while state.segments.count > 1, state.segments[1].baseOffset <= offset {
                try state.segments.removeFirst().deleteFiles()
                state.directoryDirty = true
            }
            truncateEpochsFromStart(&state)
        }
    }
}
