import Logging
import Synchronization

// Lock order of a swap: `maintenanceLock`, then `state` (and, inside `state`, a segment handle's
// lock, then the segment-file cache's). The cleaner holds `maintenanceLock` for the whole swap,
// fsyncs included, so that retention and truncation (which also take it) cannot change the
// segments being replaced between the commit on disk and the switch in memory; produce, fetch
// and flushes never take it. `state`, which they do take, is held only for the renames and the
// segment-list switch (metadata operations, no fsync): those must be atomic with respect to
// readers, which open an evicted segment by its path under `state`.

extension PartitionLog {
    /// Replaces the segments of `group` with `cleaned` (written to `.cleaned` files, fsynced), on
    /// disk as ``SwapFiles`` describes and in the segment list, so that appends, reads, retention
    /// and truncation see either the old segments or the new one. Returns false, and deletes the
    /// cleaned files, when the group is no longer in the log as it was read.
    ///
    /// The swap info and the commit (`N.log.cleaned` renamed to `N.log.swap`, the directory
    /// fsynced) are made before `state` is taken; under it, only the old files are renamed to
    /// `.deleted`, the `.swap` files to their final names, and the segment list switched; the
    /// directory fsync and the removal of the `.deleted` files follow after it is released.
    /// - Throws: `ioError`. A failure before the commit point leaves the log as it was; after
    ///   it, the log goes offline (start-up finishes the swap).
    func swapIn(_ cleaned: Segment, replacing group: [CleanSource]) throws -> Bool {
        try maintenanceLock.withLock { _ in try swapInHoldingMaintenanceLock(cleaned, replacing: group) }
    }

    private func swapInHoldingMaintenanceLock(_ cleaned: Segment, replacing group: [CleanSource]) throws -> Bool {
        let base = cleaned.baseOffset
        let paths = SegmentCleaner.cleanedPaths(directory: directory, base: base)
        let infoPath = SwapFiles.infoPath(directory: directory, base: base)
        // Nothing else replaces or removes non-active segments while the maintenance lock is
        // held, so a group unchanged now stays so (closing, deletion or a failure may still come).
        guard state.withLock({ stillHolds(group, $0) }) else {
            for path in paths { try? FileSystem.unlink(path) }
            return false
        }
        // Before the commit point: a failure leaves the old segments in place.
        do {
            try AtomicFile.write(infoPath, bytes: Array("\(group[group.count - 1].nextOffset)\n".utf8))
            try FileSystem.rename(paths[1], paths[1].replacingSuffix(SwapFiles.cleanedSuffix, SwapFiles.swapSuffix))
            try FileSystem.rename(paths[2], paths[2].replacingSuffix(SwapFiles.cleanedSuffix, SwapFiles.swapSuffix))
            try FileSystem.rename(paths[0], paths[0].replacingSuffix(SwapFiles.cleanedSuffix, SwapFiles.swapSuffix))
            swapWillSync.withLock { $0 }?()
            try FileSystem.fsyncDirectory(directory)
        } catch {
            for path in paths {
                try? FileSystem.unlink(path)
                try? FileSystem.unlink(path.replacingSuffix(SwapFiles.cleanedSuffix, SwapFiles.swapSuffix))
            }
            try? FileSystem.unlink(infoPath)
            throw error
        }
        // Committed: from here a failure takes the log offline and start-up finishes the swap.
        do {
            try state.withLock { state in
                // Offline, or closed (a deleted log is also closed) while its swap synced: a deleted
                // log's directory path may already belong to a recreated topic, whose files must
                // not be renamed away.
                try checkUsable(state)
                let first = Self.segmentIndex(state.segments, containing: base)
                // Nothing may replace these segments while the maintenance lock is held; if
                // something did, the log goes offline rather than mixing the two (start-up
                // finishes the committed swap).
                guard Self.holds(group, state, from: first) else {
                    throw StorageError(
                        .ioError, "\(topicPartition): the segments from offset \(base) changed during their swap")
                }
                // Retired before the renames: an open of an old path racing them fails rather than
                // finding the new file.
                for source in group { source.handle.retire() }
                for source in group {
                    for suffix in [".log", ".index", ".timeindex", ".keyindex"] {
                        let path = directory + "/" + Segment.fileName(source.baseOffset, suffix)
                        if FileSystem.exists(path) { try FileSystem.rename(path, path + SwapFiles.deletedSuffix) }
                    }
                }
                for suffix in [".index", ".timeindex", ".log"] {
                    let final = directory + "/" + Segment.fileName(base, suffix)
                    try FileSystem.rename(final + SwapFiles.swapSuffix, final)
                }
                state.segments.replaceSubrange(first..<first + group.count, with: [cleaned])
            }
            try FileSystem.fsyncDirectory(directory)
            for source in group {
                for suffix in [".log", ".index", ".timeindex", ".keyindex"] {
                    try FileSystem.unlink(
                        directory + "/" + Segment.fileName(source.baseOffset, suffix) + SwapFiles.deletedSuffix)
                }
            }
            try FileSystem.unlink(infoPath)
            state.withLock { $0.directoryDirty = true }
        } catch {
            let failure = error as? StorageError ?? StorageError(.ioError, "\(topicPartition): \(error)")
            state.withLock { $0.failure = $0.failure ?? failure }
            logger.error(
                "a segment swap failed after its commit point; the log is offline until a restart finishes it",
                metadata: ["error": "\(failure)"])
            throw failure
        }
        return true
    }

    /// Removes the segments of `group`, whose records a cleaning found all superseded (it is never
    /// the first segment of the log, nor the active one), with no replacement. The files are
    /// renamed to `.deleted` oldest first under `state` (a crash between two renames leaves the
    /// newer segments, whose records supersede the older ones'; start-up deletes `.deleted`
    /// files), then the directory is fsynced and they are deleted without it. Returns false when
    /// the group is no longer in the log as it was read.
    func remove(_ group: [CleanSource]) throws -> Bool {
        try maintenanceLock.withLock { _ in
            let removed = try state.withLock { state -> Bool in
                // Retention may have made the group the first segment since it was chosen.
                let first = Self.segmentIndex(state.segments, containing: group[0].baseOffset)
                // A deleted log's directory path may already belong to a recreated topic.
                guard !state.deleted, !state.closed, stillHolds(group, state), first > 0 else { return false }
                for source in group { source.handle.retire() }
                do {
                    for source in group {
                        for suffix in [".log", ".index", ".timeindex", ".keyindex"] {
                            let path = directory + "/" + Segment.fileName(source.baseOffset, suffix)
                            if FileSystem.exists(path) { try FileSystem.rename(path, path + SwapFiles.deletedSuffix) }
                        }
                    }
                } catch {
                    // The handles are retired, so the segments can no longer be read: the log goes
                    // offline (as a failed swap does) rather than serve a range it cannot read;
                    // start-up deletes the `.deleted` files and keeps the rest.
                    let failure = error as? StorageError ?? StorageError(.ioError, "\(topicPartition): \(error)")
                    state.failure = failure
                    throw failure
                }
                state.segments.removeSubrange(first..<first + group.count)
                return true
            }
            guard removed else { return false }
            do {
                try FileSystem.fsyncDirectory(directory)
                for source in group {
                    for suffix in [".log", ".index", ".timeindex", ".keyindex"] {
                        try FileSystem.unlink(
                            directory + "/" + Segment.fileName(source.baseOffset, suffix) + SwapFiles.deletedSuffix)
                    }
                }
            } catch {
                // The segments are gone from the log; leftovers are deleted at the next start-up.
                logger.warning("cannot delete removed segment files", metadata: ["error": "\(error)"])
            }
            state.withLock { $0.directoryDirty = true }
            return true
        }
    }

    /// True when the segments of `group` are still in the log, unchanged, below the active one,
    /// and the log is usable.
    private func stillHolds(_ group: [CleanSource], _ state: State) -> Bool {
        guard state.failure == nil, !state.closed, let head = group.first else { return false }
        let first = Self.segmentIndex(state.segments, containing: head.baseOffset)
        return first + group.count <= state.activeIndex && Self.holds(group, state, from: first)
    }

    private static func holds(_ group: [CleanSource], _ state: State, from first: Int) -> Bool {
        first + group.count <= state.segments.count
            && group.enumerated().allSatisfy { i, source in
                let segment = state.segments[first + i]
                return segment.handle === source.handle && segment.baseOffset == source.baseOffset
                    && segment.size == source.size
            }
    }
}

extension String {
    fileprivate func replacingSuffix(_ suffix: String, _ replacement: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self
    }
}
