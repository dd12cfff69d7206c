import Logging
import Synchronization

extension LogManager {
    /// The log of a partition, if this broker has it.
    public func log(for tp: TopicPartition) -> PartitionLog? { registry.state.withLock { $0.logs[tp] } }

    /// The log directory (one of ``logDirs``) holding a partition's log, if this broker has it.
    public func logDir(for tp: TopicPartition) -> String? { registry.state.withLock { $0.dirs[tp] } }

    /// Every open log.
    public var allLogs: [PartitionLog] { registry.allLogs }

    /// Creates an empty log, or returns the existing one. A new log goes to the log directory
    /// holding the fewest partitions; its directory and first segment are made durable (the
    /// new directory and its parent are fsynced) before it is registered and returned. The disk
    /// work runs outside the registry lock (see ``prepareLogs(_:config:shouldContinue:)``).
    /// - Throws: `closed` after shutdown; `ioError` when the files cannot be created.
    public func createLog(_ tp: TopicPartition, config: LogConfig) throws -> PartitionLog {
        if let existing = log(for: tp) { return existing }
        try publish(try prepareLogs([tp], config: config))
        guard let log = log(for: tp) else { throw StorageError(.notFound, "\(tp) was deleted as it was created") }
        return log
    }

    /// Applies new settings to a log (they take effect from its next append).
    public func updateConfig(_ tp: TopicPartition, config: LogConfig) { log(for: tp)?.update(config: config) }

    /// Closes a log and removes its directory: renamed to `<topic>-<partition>.<uuid>-delete`
    /// first (and the parent fsynced), so a crash midway is finished at the next start-up. Reads
    /// already made keep their files open until released. Deleting an absent log does nothing.
    /// - Throws: `ioError` when the directory cannot be renamed or removed.
    public func deleteLog(_ tp: TopicPartition) throws {
        try deleteLogs([tp])
    }

    /// Unregisters the logs of `tps` under one short hold of the registry lock, then (without
    /// it) renames each directory to `<topic>-<partition>.<uuid>-delete`, fsyncs each log
    /// directory once and removes the renamed trees. A crash midway, or `shouldContinue`
    /// turning false, leaves only `-delete` directories, which the next start-up removes.
    /// Partitions without a log are skipped.
    /// - Throws: the first rename, fsync or removal error, after trying every partition.
    public func deleteLogs(_ tps: [TopicPartition], shouldContinue: () -> Bool = { true }) throws {
        var removed = registry.state.withLock { state -> [(log: PartitionLog, dir: String)] in
            tps.compactMap { tp in
                guard let log = state.logs.removeValue(forKey: tp), let dir = state.dirs.removeValue(forKey: tp) else {
                    return nil
                }
                return (log, dir)
            }
        }
        guard !removed.isEmpty else { return }
        let doomed = removed.map { (path: $0.log.directory, dir: $0.dir) }
        for entry in removed { entry.log.abandon() }
        // Released before the removal, which needs descriptors of its own.
        removed.removeAll()
        let removal = removeDirectories(doomed, shouldContinue: shouldContinue)
        // The checkpoints still name the deleted partitions: rewritten now, before the call
        // returns (and so before a topic of the same name can be created again), or a crash
        // would let the new log trust the old one's recovery point and skip its recovery.
        var checkpointError: (any Error)?
        do {
            try Self.writeCheckpoints(registry: registry, logDirs: logDirs.filter { dir in doomed.contains { $0.dir == dir } })
        } catch {
            checkpointError = error
        }
        if let error = removal ?? checkpointError { throw error }
        for entry in doomed { logger.debug("deleted log \(entry.path)") }
    }

    /// 32 random hex digits.
    static func uniqueSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = String(generator.next() as UInt64, radix: 16)
        let low = String(generator.next() as UInt64, radix: 16)
        return String(repeating: "0", count: 16 - high.count) + high + String(repeating: "0", count: 16 - low.count)
            + low
    }

    /// Group commit: calls `completion` once everything appended to `log` below `offset` (an
    /// exclusive end offset) is durable. In `.sync` mode the flusher thread takes all pending
    /// requests, does one `fdatasync` per dirty log and completes them together, so many
    /// producers share one flush; `completion` then runs on that thread and must not block (nor
    /// call ``shutdown()``). Already-durable offsets, and every call in `.interval` mode (the
    /// flusher flushes in the background), complete at once on the calling thread.
    ///
    /// Fails with the flush's error (the log is then offline), or `closed` after shutdown.
    public func whenDurable(
        _ log: PartitionLog, upTo offset: Int64, completion: @escaping @Sendable (Result<Void, StorageError>) -> Void
    ) {
        guard case .sync = flushMode else { return completion(.success(())) }
        if log.recoveryPoint >= offset { return completion(.success(())) }
        flusher.enqueue(Flusher.Waiter(log: log, offset: offset, completion: completion))
    }

    /// What ``whenDurable(_:upTo:completion:)`` counts as durable in `log` now: the flushed
    /// offset (its recovery point) in `sync` mode, the log end otherwise (nothing waits for a
    /// flush then). Read it under whatever lock orders the log's truncations for the caller.
    public func durableOffset(of log: PartitionLog) -> Int64 {
        guard case .sync = flushMode else { return log.logEndOffset }
        return min(log.recoveryPoint, log.logEndOffset)
    }

    /// `fdatasync`/`fsync` calls made by flushes of this manager's logs so far (for tests and
    /// metrics): with group commit, far fewer than the appends they cover.
    public var flushCount: Int { syncCounter.value }

    /// Flushes everything, writes the recovery-point and log-start checkpoints, closes the logs and
    /// leaves the clean-shutdown marker in each log directory. Waiters still queued are completed
    /// first; later calls to the manager fail with `closed`. Calling it again does nothing.
    /// - Throws: the first failure; a directory where anything failed gets no marker, so its
    ///   logs are recovered at the next start.
    public func shutdown() throws {
        let wasClosed = registry.state.withLock { state -> Bool in
            defer { state.closed = true }
            return state.closed
        }
        guard !wasClosed else { return }
        backgroundFlusher.stop()
        flusher.stop()
        let (logs, dirs) = registry.state.withLock { ($0.logs, $0.dirs) }
        var firstError: (any Error)?
        var failedDirs = Set<String>()
        for (tp, log) in logs {
            do {
                try log.close()
            } catch {
                logger.error(
                    "cannot close log",
                    metadata: ["tern_topic": "\(tp.topic)", "tern_partition": "\(tp.partition)", "error": "\(error)"])
                firstError = firstError ?? error
                failedDirs.insert(dirs[tp] ?? "")
            }
        }
        for dir in logDirs {
            do {
                try writeCheckpoints(dir: dir, logs: logs.filter { dirs[$0.key] == dir })
                if !failedDirs.contains(dir) { try AtomicFile.write(dir + "/" + Self.cleanShutdownMarker, bytes: []) }
            } catch {
                logger.error("cannot finish shutting down \(dir)", metadata: ["error": "\(error)"])
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }

    /// Writes the recovery-point, log-start and cleaner checkpoints of every log directory (also
    /// done at shutdown, every `checkpointIntervalMs` by the background flusher so that recovery
    /// after a crash scans less, by retention and by the cleaner after each cleaning).
    public func writeCheckpoints() throws {
        try Self.writeCheckpoints(registry: registry, logDirs: logDirs)
    }

    static func writeCheckpoints(registry: Registry, logDirs: [String]) throws {
        let (logs, dirs) = registry.state.withLock { ($0.logs, $0.dirs) }
        for dir in logDirs {
            try writeCheckpoints(dir: dir, logs: logs.filter { dirs[$0.key] == dir }, registry: registry)
        }
    }

    private func writeCheckpoints(dir: String, logs: [TopicPartition: PartitionLog]) throws {
        try Self.writeCheckpoints(dir: dir, logs: logs, registry: registry)
    }

    /// Writes one directory's checkpoints; serialized, since the background flusher, retention,
    /// the cleaner and shutdown all write them and share the files' temporary names.
    private static func writeCheckpoints(
        dir: String, logs: [TopicPartition: PartitionLog], registry: Registry
    ) throws {
        try registry.checkpointLock.withLock { _ in try writeCheckpointsSerialized(dir: dir, logs: logs) }
    }

    private static func writeCheckpointsSerialized(dir: String, logs: [TopicPartition: PartitionLog]) throws {
        try OffsetCheckpoint.write(dir + "/" + Self.recoveryPointCheckpoint, logs.mapValues(\.recoveryPoint))
        try OffsetCheckpoint.write(dir + "/" + Self.logStartCheckpoint, logs.mapValues(\.logStartOffset))
        try OffsetCheckpoint.write(
            dir + "/" + Self.cleanerCheckpoint,
            logs.filter { $0.value.firstDirtyOffset > 0 }.mapValues(\.firstDirtyOffset))
    }
}
