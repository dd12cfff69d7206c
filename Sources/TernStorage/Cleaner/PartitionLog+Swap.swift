import Logging
import Synchronization

extension PartitionLog {
    /// Replaces the segments of `group` with `cleaned` (written to `.cleaned` files), on disk as
    /// ``SwapFiles`` describes and in the segment list, under the log's lock so that appends,
    /// retention and truncation see either the old segments or the new one. Returns false, and
    /// deletes the cleaned files, when the group is no longer in the log as it was read.
    /// - Throws: `ioError`. A failure before the commit point leaves the log as it was; after
    ///   it, the log goes offline (start-up finishes the swap).
    func swapIn(_ cleaned: Segment, replacing group: [CleanSource]) throws -> Bool {
        let base = cleaned.baseOffset
        let paths = SegmentCleaner.cleanedPaths(directory: directory, base: base)
        let infoPath = SwapFiles.infoPath(directory: directory, base: base)
        return try state.withLock { state -> Bool in
            let first = Self.segmentIndex(state.segments, containing: base)
            let unchanged =
                state.failure == nil && !state.closed && first + group.count <= state.activeIndex
                && group.enumerated().allSatisfy { i, source in
                    let segment = state.segments[first + i]
                    return segment.file === source.file && segment.baseOffset == source.baseOffset
                        && segment.size == source.size
                }
            guard unchanged else {
                for path in paths { try? FileSystem.unlink(path) }
                return false
            }
            // Before the commit point: a failure leaves the old segments in place.
            do {
                try AtomicFile.write(infoPath, bytes: Array("\(group[group.count - 1].nextOffset)\n".utf8))
                try FileSystem.rename(paths[1], paths[1].replacingSuffix(SwapFiles.cleanedSuffix, SwapFiles.swapSuffix))
                try FileSystem.rename(paths[2], paths[2].replacingSuffix(SwapFiles.cleanedSuffix, SwapFiles.swapSuffix))
                try FileSystem.rename(paths[0], paths[0].replacingSuffix(SwapFiles.cleanedSuffix, SwapFiles.swapSuffix))
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
                for source in group {
                    for suffix in [".log", ".index", ".timeindex"] {
                        let path = directory + "/" + Segment.fileName(source.baseOffset, suffix)
                        if FileSystem.exists(path) { try FileSystem.rename(path, path + SwapFiles.deletedSuffix) }
                    }
                }
                for suffix in [".index", ".timeindex", ".log"] {
                    let final = directory + "/" + Segment.fileName(base, suffix)
                    try FileSystem.rename(final + SwapFiles.swapSuffix, final)
                }
                try FileSystem.fsyncDirectory(directory)
                var segment = cleaned
                segment.file = try SegmentFile(path: cleaned.logPath, create: false)
                state.segments.replaceSubrange(first..<first + group.count, with: [segment])
                for source in group {
                    for suffix in [".log", ".index", ".timeindex"] {
                        try FileSystem.unlink(
                            directory + "/" + Segment.fileName(source.baseOffset, suffix) + SwapFiles.deletedSuffix)
                    }
                }
                try FileSystem.unlink(infoPath)
                state.directoryDirty = true
            } catch {
                let failure = error as? StorageError ?? StorageError(.ioError, "\(topicPartition): \(error)")
                state.failure = failure
                logger.error(
                    "a segment swap failed after its commit point; the log is offline until a restart finishes it",
                    metadata: ["error": "\(failure)"])
                throw failure
            }
            return true
        }
    }
}

extension String {
    fileprivate func replacingSuffix(_ suffix: String, _ replacement: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self
    }
}
