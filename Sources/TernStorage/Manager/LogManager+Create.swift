import Logging
import Synchronization

/// Partition logs made on disk by ``LogManager/prepareLogs(_:config:shouldContinue:)`` and not
/// yet registered: invisible to ``LogManager/log(for:)``, the flusher and the checkpoints until
/// ``LogManager/publish(_:)`` registers them, or removed by ``LogManager/discard(_:)``.
///
/// Not copyable, so that publishing or discarding consumes it: nothing keeps the logs (and the
/// descriptors of their segment files) alive behind the manager's back.
public struct PreparedLogs: ~Copyable, Sendable {
    struct Entry: Sendable {
        let log: PartitionLog
        /// The log directory (one of the manager's `logDirs`) holding it.
        let dir: String
    }

    fileprivate var entries: [Entry]

    /// How many logs were prepared.
    public var count: Int { entries.count }

    fileprivate consuming func take() -> [Entry] { entries }
}

extension LogManager {
    /// Descriptors a newly created, idle log keeps open: none, since segments open their files
    /// on demand within the `SegmentFileCache` budget (`log.max.open.files`). A broker multiplies
    /// it by a new topic's partition count to refuse a creation that `RLIMIT_NOFILE` cannot hold.
    public static let descriptorsPerIdleLog = 0

    /// Creates empty logs on disk for `tps` without registering them. The disk work (a directory
    /// and a first segment per partition, each directory fsynced, then each log directory used
    /// fsynced once) runs without the registry lock, so produces and fetches of other partitions
    /// are not held up by it; the lock is taken only to read what exists. Each log goes to the
    /// log directory holding the fewest partitions.
    ///
    /// A directory of the same name that no registered log owns is a leftover of a creation that
    /// failed or crashed midway; it is removed first. On any failure, what this call made is
    /// removed again and the error rethrown: it makes all the logs or none.
    ///
    /// - Parameters:
    ///   - tps: distinct partitions none of which has a log yet.
    ///   - shouldContinue: asked before each partition; false abandons the call (for example
    ///     when the broker is stopping), which then throws `cancelled`.
    /// - Throws: `closed` after shutdown; `ioError` when a partition already has a log or a file
    ///   cannot be created (a non-directory already in the way, too many open files, no space);
    ///   `cancelled`.
    public func prepareLogs(
        _ tps: [TopicPartition], config: LogConfig, shouldContinue: () -> Bool = { true }
    ) throws -> PreparedLogs {
        precondition(Set(tps).count == tps.count, "prepareLogs needs distinct partitions")
        var counts = try registry.state.withLock { state -> [String: Int] in
            guard !state.closed else {
                throw StorageError(.closed, "cannot create logs: the log manager is shut down")
            }
            if let existing = tps.first(where: { state.logs[$0] != nil }) {
                throw StorageError(.ioError, "cannot create the log of \(existing): it already exists")
            }
            var counts: [String: Int] = [:]
            for dir in state.dirs.values { counts[dir, default: 0] += 1 }
            return counts
        }
        var made: [PreparedLogs.Entry] = []
        made.reserveCapacity(tps.count)
        do {
            for tp in tps {
                guard shouldContinue() else {
                    throw StorageError(.cancelled, "creation of \(tp) and the rest abandoned: shutting down")
                }
                // The first of the least used directories, in the order given.
                var dir = logDirs[0]
                for candidate in logDirs where counts[candidate, default: 0] < counts[dir, default: 0] {
                    dir = candidate
                }
                made.append(PreparedLogs.Entry(log: try makeLog(tp, in: dir, config: config), dir: dir))
                counts[dir, default: 0] += 1
            }
            for dir in Set(made.map(\.dir)).sorted() { try FileSystem.fsyncDirectory(dir) }
        } catch {
            // Stopping: the renames are quick and the next start-up removes `-delete` trees.
            removeUnregistered(&made, shouldContinue: shouldContinue)
            throw error
        }
        return PreparedLogs(entries: made)
    }

    /// Registers prepared logs, making them visible to ``log(for:)``, the flusher and the
    /// checkpoints. Only memory changes under the registry lock. When the manager has been shut
    /// down meanwhile (or a partition got a log another way), the prepared logs are removed
    /// and the error thrown.
    /// - Throws: `closed` after shutdown; `ioError` when a partition already has a log.
    public func publish(_ prepared: consuming PreparedLogs) throws {
        var entries = prepared.take()
        let refused = registry.state.withLock { state -> StorageError? in
            guard !state.closed else {
                return StorageError(.closed, "cannot register new logs: the log manager is shut down")
            }
            if let existing = entries.first(where: { state.logs[$0.log.topicPartition] != nil }) {
                return StorageError(
                    .ioError, "cannot register the log of \(existing.log.topicPartition): it already exists")
            }
            for entry in entries {
                state.logs[entry.log.topicPartition] = entry.log
                state.dirs[entry.log.topicPartition] = entry.dir
            }
            return nil
        }
        if let refused {
            removeUnregistered(&entries)
            throw refused
        }
        for entry in entries {
            let tp = entry.log.topicPartition
            logger.debug(
                "created log \(entry.log.directory)",
                metadata: ["tern_topic": "\(tp.topic)", "tern_partition": "\(tp.partition)"])
        }
    }

    /// Removes prepared logs that will not be published. Best effort: what cannot be removed
    /// is logged, and is removed at the next start-up (a broker does not keep partitions that
    /// no topic records).
    public func discard(_ prepared: consuming PreparedLogs) {
        var entries = prepared.take()
        removeUnregistered(&entries)
    }

    /// Makes one log's directory and first segment and fsyncs the directory.
    private func makeLog(_ tp: TopicPartition, in dir: String, config: LogConfig) throws -> PartitionLog {
        for other in logDirs {
            let stale = other + "/" + tp.description
            guard FileSystem.isDirectory(stale) else { continue }
            logger.warning(
                "removing \(stale), left over by a topic creation that did not finish",
                metadata: ["tern_topic": "\(tp.topic)", "tern_partition": "\(tp.partition)"])
            try FileSystem.removeTree(stale)
        }
        let path = dir + "/" + tp.description
        // Fails on anything already at `path` (a file in the way), rather than adopting it.
        try FileSystem.makeDirectory(path)
        let segment = try Segment.create(directory: path, baseOffset: 0)
        try FileSystem.fsyncDirectory(path)
        return PartitionLog(
            topicPartition: tp, directory: path, segments: [segment], logStartOffset: 0, recoveryPoint: 0,
            config: config, logger: logger, syncCounter: syncCounter, flushRequests: rollFlushRequests)
    }

    /// Removes the directories of logs that are not (or no longer) registered. The logs are
    /// released first, so their descriptors are closed before the removal needs new ones (it
    /// may run because descriptors ran out).
    private func removeUnregistered(_ entries: inout [PreparedLogs.Entry], shouldContinue: () -> Bool = { true }) {
        let doomed = entries.map { (path: $0.log.directory, dir: $0.dir) }
        for entry in entries { entry.log.abandon() }
        entries.removeAll()
        removeDirectories(doomed, shouldContinue: shouldContinue)
    }

    /// Renames each log directory to `<name>.<uuid>-delete`, fsyncs the log directories once,
    /// then removes the renamed trees, stopping early (leaving the rest to the next start-up)
    /// when `shouldContinue` turns false. Errors are logged and the first is returned.
    @discardableResult
    func removeDirectories(
        _ doomed: [(path: String, dir: String)], shouldContinue: () -> Bool = { true }
    ) -> (any Error)? {
        var firstError: (any Error)?
        func note(_ error: any Error, _ path: String) {
            logger.error(
                "cannot remove a log directory; the next start-up removes it",
                metadata: ["tern_log_dir": "\(path)", "error": "\(error)"])
            if firstError == nil { firstError = error }
        }
        var renamed: [String] = []
        renamed.reserveCapacity(doomed.count)
        for entry in doomed {
            let target = entry.path + "." + Self.uniqueSuffix() + "-delete"
            do {
                try FileSystem.rename(entry.path, target)
                renamed.append(target)
            } catch {
                note(error, entry.path)
            }
        }
        for dir in Set(doomed.map(\.dir)).sorted() {
            do { try FileSystem.fsyncDirectory(dir) } catch { note(error, dir) }
        }
        for path in renamed {
            guard shouldContinue() else { break }
            do { try FileSystem.removeTree(path) } catch { note(error, path) }
        }
        return firstError
    }
}
