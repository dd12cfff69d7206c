import Logging
import Synchronization
import SystemPackage

/// Every partition log of the broker's log directories: opening and recovering them at start-up,
/// creating and deleting them, the group-commit flusher, the checkpoint files and the
/// clean-shutdown marker.
///
/// Each log directory holds one `<topic>-<partition>` directory per partition, plus
/// `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint` and, after a clean
/// shutdown, `.tern-clean-shutdown`.
public final class LogManager: Sendable {
    /// Name of the marker a clean shutdown leaves in each log directory.
    public static let cleanShutdownMarker = ".tern-clean-shutdown"
    /// Directories in a log directory that look like partitions but belong to something else
    /// (the metadata quorum's log): never opened, never removed.
    public static let reservedDirectoryNames: Set<String> = ["__cluster_metadata-0"]
    /// Name of the per-directory recovery-point checkpoint.
    public static let recoveryPointCheckpoint = "recovery-point-offset-checkpoint"
    /// Name of the per-directory log-start-offset checkpoint.
    public static let logStartCheckpoint = "log-start-offset-checkpoint"
    /// Name of the per-directory cleaner checkpoint (each compacted log's first dirty offset).
    public static let cleanerCheckpoint = "cleaner-offset-checkpoint"

    /// The log directories, as given.
    public let logDirs: [String]
    /// How appends are made durable.
    public let flushMode: FlushMode
    /// True when every log directory had its clean-shutdown marker (or was new) at start-up.
    public let openedCleanly: Bool
    /// What opening the logs found and did.
    public let recoveryStats: RecoveryStats
    /// Partitions whose log was cut during start-up recovery (an incomplete or corrupt batch).
    public let recoveredPartitions: [TopicPartition]

    let logger: Logger
    let configProvider: @Sendable (TopicPartition) -> LogConfig
    let syncCounter = SyncCounter()
    let flusher: Flusher
    /// Flushes nobody waits for (periodic, after rolls) and the periodic checkpoints.
    let backgroundFlusher: BackgroundFlusher
    let flushRequests = FlushRequests()
    /// What the logs get to ask for a flush when they roll: `flushRequests` when background
    /// flushing is on (a flush period is set), nil otherwise (nothing syncs in the background).
    let rollFlushRequests: FlushRequests?

    struct State: Sendable {
        var logs: [TopicPartition: PartitionLog] = [:]
        /// The log directory of each log.
        var dirs: [TopicPartition: String] = [:]
        var closed = false
    }

    /// The open logs, shared with the flusher.
    final class Registry: Sendable {
        let state: Mutex<State>
        /// Serializes checkpoint writes (they share temporary file names). Never taken by appends.
        let checkpointLock = Mutex(())
        init(_ state: consuming State) { self.state = Mutex(state) }
        var allLogs: [PartitionLog] { state.withLock { Array($0.logs.values) } }
    }

    let registry: Registry

    /// Opens every `<topic>-<partition>` directory under each log directory, creating the log
    /// directories as needed. Where a directory lacks the clean-shutdown marker, every log in it
    /// is recovered: segments from the checkpointed recovery point on are scanned batch by batch
    /// and cut at the first incomplete or corrupt batch. The markers are then removed (a clean
    /// shutdown writes them again), and leftovers of interrupted deletions are removed.
    ///
    /// - Parameters:
    ///   - flushIntervalMs: in `.sync` mode, how often logs holding data no `acks=all` request has
    ///     flushed are flushed in the background, and a log whose segment rolls is flushed at
    ///     once (nil: no background flushing at all, only waiters and shutdown flush). In
    ///     `.interval` mode the mode's own period applies.
    ///   - checkpointIntervalMs: how often the recovery-point (and log-start, cleaner) checkpoints
    ///     are written, so that recovery after a crash scans only what came after (nil: only at
    ///     shutdown and when retention or the cleaner writes them).
    ///   - configProvider: the settings of each log found on disk (the broker owns topic
    ///     configuration). Logs created later get theirs from ``createLog(_:config:)``, and
    ///     ``updateConfig(_:config:)`` changes them.
    ///   - keep: whether a partition found on disk is wanted. The directory of one that is not
    ///     (a creation or deletion that a crash interrupted) is removed without being opened;
    ///     a failure to remove it is logged and start-up goes on.
    /// - Throws: `logDirUnavailable` naming a directory that cannot be created, listed or written;
    ///   `ioError` or `corruptLog` when a log cannot be opened.
    public init(
        logDirs: [String], flushMode: FlushMode, logger: Logger, flushIntervalMs: Int64? = nil,
        checkpointIntervalMs: Int64? = nil,
        configProvider: @escaping @Sendable (TopicPartition) -> LogConfig = { _ in LogConfig() },
        keep: (TopicPartition) -> Bool = { _ in true }
    ) throws {
        precondition(!logDirs.isEmpty, "at least one log directory")
        self.logDirs = logDirs
        self.flushMode = flushMode
        self.logger = logger
        self.configProvider = configProvider
        let period: Int64? =
            switch flushMode {
            case .sync: flushIntervalMs
            case .interval(let milliseconds): milliseconds
            }
        rollFlushRequests = period == nil ? nil : flushRequests
        var opened = State()
        var stats = RecoveryStats()
        var allClean = true
        var cut: [TopicPartition] = []
        for dir in logDirs {
            try Self.prepare(dir)
            let marker = dir + "/" + Self.cleanShutdownMarker
            let names = try Self.listing(dir)
            let partitions = names.filter { !Self.reservedDirectoryNames.contains($0) }.compactMap {
                TopicPartition(directoryName: $0)
            }
            let clean = FileSystem.exists(marker) || partitions.isEmpty
            if !clean {
                allClean = false
                logger.warning(
                    "log directory \(dir) was not shut down cleanly; recovering its logs",
                    metadata: ["tern_log_dir": "\(dir)"])
            }
            let recoveryPoints = Self.readCheckpoint(dir + "/" + Self.recoveryPointCheckpoint, logger: logger)
            let startOffsets = Self.readCheckpoint(dir + "/" + Self.logStartCheckpoint, logger: logger)
            let cleanerOffsets = Self.readCheckpoint(dir + "/" + Self.cleanerCheckpoint, logger: logger)
            for name in names.sorted() {
                let path = dir + "/" + name
                guard FileSystem.isDirectory(path) else { continue }
                if name.hasSuffix("-delete") {
                    logger.info("finishing the deletion of \(path)")
                    try FileSystem.removeTree(path)
                    continue
                }
                // The metadata quorum's own directory lives beside the partitions but is not one.
                guard !Self.reservedDirectoryNames.contains(name) else { continue }
                guard let tp = TopicPartition(directoryName: name) else { continue }
                guard keep(tp) else {
                    logger.warning(
                        "removing \(path): no topic has this partition (a creation or deletion was interrupted)",
                        metadata: ["tern_topic": "\(tp.topic)", "tern_partition": "\(tp.partition)"])
                    do {
                        try FileSystem.removeTree(path)
                    } catch {
                        logger.error("cannot remove \(path); it is left in place, unused", metadata: ["error": "\(error)"])
                    }
                    continue
                }
                if let other = opened.dirs[tp] {
                    throw StorageError(.logDirUnavailable, "\(tp) exists in both \(other) and \(dir)")
                }
                var loader = LogLoader(
                    topicPartition: tp, directory: path, clean: clean, recoveryPoint: recoveryPoints?[tp],
                    logStartOffset: startOffsets?[tp], config: configProvider(tp), logger: logger,
                    syncCounter: syncCounter)
                loader.cleanerCheckpoint = cleanerOffsets?[tp]
                loader.flushRequests = rollFlushRequests
                let truncationsBefore = stats.truncations
                opened.logs[tp] = try loader.load(stats: &stats)
                if stats.truncations > truncationsBefore { cut.append(tp) }
                opened.dirs[tp] = dir
            }
            // From here on a crash must lead to recovery.
            if FileSystem.exists(marker) { try AtomicFile.remove(marker) }
        }
        openedCleanly = allClean
        recoveryStats = stats
        recoveredPartitions = cut
        if stats.logsOpened > 0 {
            logger.info(
                "opened \(stats.logsOpened) logs",
                metadata: [
                    "tern_logs_recovered": "\(stats.logsRecovered)", "tern_truncations": "\(stats.truncations)",
                    "tern_segments_scanned": "\(stats.segmentsScanned)",
                    "tern_batches_checked": "\(stats.batchesChecked)", "tern_bytes_read": "\(stats.bytesRead)",
                    "tern_corrupt_regions": "\(stats.corruptRegions)",
                ])
        }
        StorageMetrics.recordRecovery(stats)
        let registry = Registry(opened)
        self.registry = registry
        flusher = Flusher(mode: flushMode, logger: logger)
        try flusher.start()
        // The checkpoint closure holds the registry, not the manager, so that an abandoned
        // manager can go (its deinit stops the thread).
        backgroundFlusher = BackgroundFlusher(
            flushIntervalMs: period, checkpointIntervalMs: checkpointIntervalMs, requests: flushRequests,
            logger: logger, logs: { registry.allLogs },
            checkpoint: {
                try Self.writeCheckpoints(registry: registry, logDirs: logDirs)
            })
        try backgroundFlusher.start()
    }

    deinit {
        flusher.requestStop()
        backgroundFlusher.requestStop()
    }

    /// Creates a log directory if needed and checks that files can be created in it.
    private static func prepare(_ dir: String) throws {
        do {
            try FileSystem.makeDirectories(dir)
            let probe = dir + "/.tern-write-probe"
            let fd = try FileSystem.open(probe, create: true)
            try fd.close()
            try FileSystem.unlink(probe)
        } catch let error as StorageError {
            throw StorageError(.logDirUnavailable, "log directory \(dir) cannot be used: \(error.message)")
        }
    }

    private static func listing(_ dir: String) throws -> [String] {
        do {
            return try FileSystem.list(dir)
        } catch let error as StorageError {
            throw StorageError(.logDirUnavailable, "log directory \(dir) cannot be listed: \(error.message)")
        }
    }

    /// A checkpoint's entries; nil (and a warning) when it is unreadable, so that every segment
    /// is scanned rather than trusting a bad recovery point.
    private static func readCheckpoint(_ path: String, logger: Logger) -> [TopicPartition: Int64]? {
        do {
            return try OffsetCheckpoint.read(path)
        } catch {
            logger.warning("ignoring checkpoint \(path): \(error)")
            return nil
        }
    }
}
