import Logging
import Synchronization
import SystemPackage

extension PartitionLog {
    /// What one flush has to make durable, noted under the lock.
    private struct FlushWork {
        /// Handles, not open files: each is opened (pinned) only while it is synced, so a flush
        /// of many rolled segments keeps at most one extra descriptor open.
        var files: [(handle: SegmentHandle, baseOffset: Int64, size: Int64)] = []
        var indexSegments: [Int64] = []
        var directoryDirty = false
        var logEndOffset: Int64 = 0
        var generation: UInt64 = 0
        /// A producer-state snapshot to write once the data below its offset is synced.
        var producerSnapshot: (offset: Int64, table: ProducerStateTable)?
    }

    /// Makes everything appended so far durable: `fdatasync` on each segment with unflushed
    /// bytes, the index files written since the last flush, and the directory when a file was
    /// created in it; then advances the recovery point. The syncs run without the log's lock,
    /// so appends continue meanwhile (and wait for the next flush).
    /// - Throws: `ioError` when a sync fails. The log then goes offline (appends and flushes
    ///   throw), since the kernel may have dropped the unsynced data.
    public func flush() throws {
        try flush(writingActiveIndexes: false)
    }

    /// A flush that with `writingActiveIndexes` first writes the active segment's new index
    /// entries to its files (synced with the rest), so that recovery can trust the entries below
    /// the recovery point and scan the active segment only from the last of them. The background
    /// flusher does this; group commits (`acks=all`) do not, to keep their syncs to the data.
    func flush(writingActiveIndexes: Bool) throws {
        try flushLock.withLock { _ in try flushSerialized(writingActiveIndexes: writingActiveIndexes) }
    }

    private func flushSerialized(writingActiveIndexes: Bool) throws {
        let work = try state.withLock { state -> FlushWork in
            if state.deleted { throw StorageError(.notFound, "\(topicPartition) has been deleted") }
            if let failure = state.failure {
                throw StorageError(
                    failure.code, "\(topicPartition) is offline after an earlier failure: \(failure.message)")
            }
            var work = FlushWork(logEndOffset: state.logEndOffset, generation: state.generation)
            if writingActiveIndexes { try state.segments[state.activeIndex].writeIndexes(sealing: false) }
            // Only the newest segments can be dirty: walk back to the first clean one.
            for i in state.segments.indices.reversed() {
                let segment = state.segments[i]
                let dirty = segment.size > segment.flushedSize
                if dirty { work.files.append((segment.handle, segment.baseOffset, segment.size)) }
                if segment.indexFilesUnsynced {
                    work.indexSegments.append(segment.baseOffset)
                    state.segments[i].indexFilesUnsynced = false
                }
                if !dirty && !segment.indexFilesUnsynced && i < state.activeIndex { break }
            }
            work.directoryDirty = state.directoryDirty
            state.directoryDirty = false
            // Background flushes and the closing one write the roll's snapshot; group commits
            // (acks=all waits on them) do not take the extra fsyncs.
            if writingActiveIndexes || state.closed {
                work.producerSnapshot = state.pendingProducerSnapshot
                state.pendingProducerSnapshot = nil
            }
            return work
        }
        var syncs = 0
        let started = StorageMetrics.now()
        defer {
            if syncs > 0 { StorageMetrics.recordFlush(syncs: syncs, startedAt: started) }
        }
        do {
            for item in work.files {
                let file: SegmentFile
                do {
                    file = try item.handle.open()
                } catch let error as StorageError where error.code == .notFound {
                    continue  // deleted or replaced by a cleaned copy since: nothing of it to sync
                } catch {
                    throw OpenFailure(error: error)
                }
                try FileSystem.fdatasync(file.fd, path: file.path)
                syncs += 1
            }
            for base in work.indexSegments { syncs += try syncIndexFiles(baseOffset: base) }
            if work.directoryDirty {
                try FileSystem.fsyncDirectory(directory)
                syncs += 1
            }
        } catch let open as OpenFailure {
            // Nothing was lost (for example no descriptor to spare): fail this flush, stay online.
            // The index files and the directory entry it noted as unsynced are still unsynced:
            // mark them so again, or a later flush would skip them and advance the recovery point
            // over a segment whose directory entry was never made durable.
            syncCounter.add(syncs)
            state.withLock { state in
                if work.directoryDirty { state.directoryDirty = true }
                for base in work.indexSegments {
                    let i = Self.segmentIndex(state.segments, containing: base)
                    if state.segments[i].baseOffset == base { state.segments[i].indexFilesUnsynced = true }
                }
            }
            throw open.error
        } catch {
            syncCounter.add(syncs)
            let failure = error as? StorageError ?? StorageError(.ioError, "\(topicPartition): \(error)")
            state.withLock { $0.failure = failure }
            logger.error("flush failed; the log is offline", metadata: ["error": "\(failure)"])
            throw failure
        }
        syncCounter.add(syncs)
        state.withLock { state in
            for item in work.files {
                let i = Self.segmentIndex(state.segments, containing: item.baseOffset)
                guard state.segments[i].baseOffset == item.baseOffset else { continue }
                state.segments[i].flushedSize = max(
                    state.segments[i].flushedSize, min(item.size, state.segments[i].size))
            }
            if state.generation == work.generation {
                state.recoveryPoint = max(state.recoveryPoint, work.logEndOffset)
            }
        }
        if let snapshot = work.producerSnapshot { writeProducerSnapshot(snapshot.table, offset: snapshot.offset) }
    }

    /// Writes a producer-state snapshot after the data below `offset` is durable. A failure is
    /// logged, not thrown: without the file, recovery replays the log instead.
    func writeProducerSnapshot(_ table: ProducerStateTable, offset: Int64) {
        // A truncation since may have cut below the offset: such a snapshot describes batches the
        // log no longer holds.
        guard state.withLock({ !$0.deleted && $0.logEndOffset >= offset }) else { return }
        do {
            try ProducerStateLoader.writeSnapshot(table, offset: offset, directory: directory)
        } catch {
            logger.warning(
                "cannot write the producer-state snapshot; recovery will replay the log",
                metadata: ["tern_offset": "\(offset)", "error": "\(error)"])
        }
    }

    private struct OpenFailure: Error {
        var error: any Error
    }

    /// fdatasyncs a segment's index files, outside the lock; returns the syncs made. A file gone
    /// since the flush noted it (retention, a truncation or a cleaner swap deleted the segment
    /// meanwhile) has nothing left to sync: that is not a failure that should take the log
    /// offline.
    private func syncIndexFiles(baseOffset: Int64) throws -> Int {
        var syncs = 0
        for suffix in [".index", ".timeindex"] {
            let path = directory + "/" + Segment.fileName(baseOffset, suffix)
            let fd: FileDescriptor
            do {
                fd = try FileDescriptor.open(
                    FilePath(path), .readWrite, options: [.closeOnExec], retryOnInterrupt: true)
            } catch Errno.noSuchFileOrDirectory {
                continue
            } catch let errno as Errno {
                throw FileSystem.error("cannot open", path, errno)
            }
            defer { try? fd.close() }
            try FileSystem.fdatasync(fd, path: path)
            syncs += 1
        }
        return syncs
    }

    /// True when a flush has something to do.
    var needsFlush: Bool {
        state.withLock { state in
            state.failure == nil && !state.deleted
                && (state.directoryDirty
                    || state.segments.last.map { $0.size > $0.flushedSize || $0.indexFilesUnsynced } ?? false
                    || state.recoveryPoint < state.logEndOffset)
        }
    }
}
