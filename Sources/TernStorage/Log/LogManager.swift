import Dispatch
import Logging
import Synchronization

/// Every partition log of the broker's log directories: opening and recovering them, creating
/// and deleting them, the group-commit flusher, checkpoints and the clean-shutdown marker.
public final class LogManager: Sendable {
    /// Name of the marker a clean shutdown leaves in each log directory.
    public static let cleanShutdownMarker = ".tern-clean-shutdown"
    static let recoveryCheckpoint = "recovery-point-offset-checkpoint"
    static let startCheckpoint = "log-start-offset-checkpoint"

    public let logDirs: [String]
    public let flushMode: FlushMode
    let logger: Logger
    let configProvider: @Sendable (TopicPartition) -> LogConfig
    private let logs: Mutex<[TopicPartition: PartitionLog]>
    private let flusher: Flusher
    /// True when every directory had its clean-shutdown marker at start-up.
    public let openedCleanly: Bool
    /// Partitions whose tail was truncated during start-up recovery.
    public let recoveredPartitions: [TopicPartition]

    /// Opens every `<topic>-<partition>` directory under each log directory (creating the
    /// directories as needed). Where a directory lacks the clean-shutdown marker, every segment
    /// after the recovery point is scanned and cut at the first incomplete or corrupt batch.
    /// - Throws: `logDirUnavailable` naming a directory that cannot be created or written.
    public init(
        logDirs: [String], flushMode: FlushMode, logger: Logger,
        configProvider: @escaping @Sendable (TopicPartition) -> LogConfig = { _ in LogConfig() }
    ) throws {
        self.logDirs = logDirs
        self.flushMode = flushMode
        self.logger = logger
        self.configProvider = configProvider
        var opened: [TopicPartition: PartitionLog] = [:]
        var allClean = true
        var recovered: [TopicPartition] = []
        for dir in logDirs {
            try FileSystem.makeDirectories(dir)
            try Self.checkWritable(dir)
            let marker = dir + "/" + Self.cleanShutdownMarker
            let clean = try FileSystem.exists(marker) || FileSystem.list(dir).isEmpty
            allClean = allClean && clean
            let recoveryPoints = (try? OffsetCheckpoint.read(dir + "/" + Self.recoveryCheckpoint)) ?? [:]
            let startOffsets = (try? OffsetCheckpoint.read(dir + "/" + Self.startCheckpoint)) ?? [:]
            if !clean {
                logger.warning("log directory was not shut down cleanly; recovering", metadata: ["log_dir": "\(dir)"])
            }
            for name in try FileSystem.list(dir).sorted() {
                let path = dir + "/" + name
                guard FileSystem.isDirectory(path) else { continue }
                if name.hasSuffix("-delete") {
                    try FileSystem.removeTree(path)
                    continue
                }
                guard let tp = TopicPartition(directoryName: name) else { continue }
                guard opened[tp] == nil else {
                    throw StorageError(.logDirUnavailable, "\(tp) exists in more than one log directory")
                }
                let (log, truncated) = try LogLoader.load(
                    tp, directory: path, clean: clean, recoveryPoint: clean ? nil : recoveryPoints[tp] ?? 0,
                    logStartOffset: startOffsets[tp], config: configProvider(tp), logger: logger)
                if truncated { recovered.append(tp) }
                opened[tp] = log
            }
            if clean {
                // From here on a crash must trigger recovery.
                try AtomicFile.remove(marker)
            }
        }
        logs = Mutex(opened)
        openedCleanly = allClean
        recoveredPartitions = recovered
        flusher = Flusher(mode: flushMode, logger: logger)
        flusher.start { [weak self] in self?.allLogs ?? [] }
    }

    private static func checkWritable(_ dir: String) throws {
        let probe = dir + "/.tern-write-probe"
        do {
            try AtomicFile.write(probe, bytes: [])
            try FileSystem.unlink(probe)
        } catch {
            throw StorageError(.logDirUnavailable, "log directory \(dir) is not writable: \(error)")
        }
    }

    /// The log of a partition.
    public func log(for tp: TopicPartition) -> PartitionLog? { logs.withLock { $0[tp] } }

    /// Every open log.
    public var allLogs: [PartitionLog] { logs.withLock { Array($0.values) } }

    /// Creates an empty log (idempotent) in the directory holding the fewest partitions.
    public func createLog(_ tp: TopicPartition, config: LogConfig) throws -> PartitionLog {
        try logs.withLock { logs in
            if let existing = logs[tp] { return existing }
            var counts: [String: Int] = Dictionary(uniqueKeysWithValues: logDirs.map { ($0, 0) })
            for log in logs.values {
                for dir in logDirs where log.directory.hasPrefix(dir + "/") { counts[dir, default: 0] += 1 }
            }
            let dir = logDirs.min { (counts[$0] ?? 0, $0) < (counts[$1] ?? 0, $1) } ?? logDirs[0]
            let path = dir + "/" + tp.description
            try FileSystem.makeDirectories(path)
            let segment = try Segment.create(directory: path, baseOffset: 0)
            try FileSystem.fsyncDirectory(path)
            try FileSystem.fsyncDirectory(dir)
            let log = PartitionLog(
                topicPartition: tp, directory: path, segments: [segment], logStartOffset: 0, recoveryPoint: 0,
                config: config, logger: logger)
            logs[tp] = log
            return log
        }
    }

    /// Applies new settings to a log.
    public func updateConfig(_ tp: TopicPartition, config: LogConfig) { log(for: tp)?.update(config: config) }

    /// Closes a log and removes its directory (renamed to `…-delete` first, so a crash midway is
    /// finished at the next start-up).
    public func deleteLog(_ tp: TopicPartition) throws {
        guard let log = logs.withLock({ $0.removeValue(forKey: tp) }) else { return }
        try? log.close()
        var generator = SystemRandomNumberGenerator()
        let doomed = log.directory + ".\(String(generator.next() as UInt64, radix: 16))-delete"
        try FileSystem.rename(log.directory, doomed)
        try FileSystem.fsyncDirectory(AtomicFile.directory(of: log.directory))
        try FileSystem.removeTree(doomed)
    }

    /// Calls `completion` once everything appended to `log` below `offset` is durable. In `.sync`
    /// mode the flusher takes every pending request, fdatasyncs each dirty log once and completes
    /// them together; in `.interval` mode it completes at once.
    public func whenDurable(
        _ log: PartitionLog, upTo offset: Int64, completion: @escaping @Sendable (Result<Void, StorageError>) -> Void
    ) {
        guard case .sync = flushMode else { return completion(.success(())) }
        if log.recoveryPoint >= offset { return completion(.success(())) }
        flusher.enqueue(log, completion)
    }

    /// fdatasync calls made by the flusher so far (for tests and metrics).
    public var flushCount: Int { flusher.flushCount }

    /// Flushes every log, writes the checkpoints, closes the files and leaves the clean-shutdown
    /// marker in each directory.
    public func shutdown() throws {
        flusher.stop()
        let all = logs.withLock { Array($0.values) }
        for log in all { try log.close() }
        try writeCheckpoints(all)
        for dir in logDirs { try AtomicFile.write(dir + "/" + Self.cleanShutdownMarker, bytes: []) }
    }

    /// Writes the recovery-point and log-start checkpoints of every directory.
    public func writeCheckpoints() throws { try writeCheckpoints(allLogs) }

    private func writeCheckpoints(_ all: [PartitionLog]) throws {
        for dir in logDirs {
            let here = all.filter { $0.directory.hasPrefix(dir + "/") }
            try OffsetCheckpoint.write(
                dir + "/" + Self.recoveryCheckpoint,
                Dictionary(uniqueKeysWithValues: here.map { ($0.topicPartition, $0.recoveryPoint) }))
            try OffsetCheckpoint.write(
                dir + "/" + Self.startCheckpoint,
                Dictionary(uniqueKeysWithValues: here.map { ($0.topicPartition, $0.logStartOffset) }))
        }
    }
}
