import CoreMetrics
import Dispatch
import Logging
import Synchronization

/// How a compacted log is cleaned (its topic's settings).
public struct CompactionPolicy: Sendable, Equatable {
    /// Clean once dirty / (clean + dirty) reaches this (`min.cleanable.dirty.ratio`).
    public var minCleanableRatio: Double
    /// How long tombstones are kept (`delete.retention.ms`).
    public var deleteRetentionMs: Int64

    /// Creates a policy.
    public init(minCleanableRatio: Double, deleteRetentionMs: Int64) {
        self.minCleanableRatio = minCleanableRatio
        self.deleteRetentionMs = deleteRetentionMs
    }
}

/// The cleaner's own settings (`log.cleaner.*`).
public struct CleanerSettings: Sendable, Equatable {
    /// Cleaner threads (`log.cleaner.threads`).
    public var threads: Int
    /// Memory for the key → offset maps of all threads together (`log.cleaner.dedupe.buffer.size`).
    public var dedupeBufferBytes: Int
    /// How long a thread sleeps when no log needs cleaning (`log.cleaner.backoff.ms`).
    public var backoffMs: Int64

    /// Creates settings (Kafka's defaults).
    public init(threads: Int = 1, dedupeBufferBytes: Int = 134_217_728, backoffMs: Int64 = 15_000) {
        self.threads = threads
        self.dedupeBufferBytes = dedupeBufferBytes
        self.backoffMs = backoffMs
    }
}

/// The background log cleaner: `threads` dedicated threads, each owning an ``OffsetMap`` of
/// `dedupeBufferBytes / threads`, repeatedly pick the compacted log with the highest dirty ratio
/// at or above its `min.cleanable.dirty.ratio` (or one whose kept tombstones have expired) and
/// clean it; with nothing to do they sleep `backoffMs`. A log whose cleaning fails (I/O error,
/// corrupt batch) is marked uncleanable, logged once and skipped from then on; the other logs
/// and the broker carry on.
///
/// Metrics: `tern_cleaner_bytes_cleaned_total`, `tern_cleaner_runs_total`,
/// `tern_cleaner_failures_total` (counters), `tern_cleaner_dirty_ratio` and
/// `tern_cleaner_dirty_bytes` (the cleaner's lag; gauges per topic and partition).
public final class LogCleaner: Sendable {
    private struct State {
        var inProgress = Set<TopicPartition>()
        var uncleanable: [TopicPartition: String] = [:]
        var stopping = false
        var running = 0
    }

    private let logManager: LogManager
    private let settings: CleanerSettings
    private let logger: Logger
    private let policy: @Sendable (TopicPartition) -> CompactionPolicy?
    private let upperBound: @Sendable (PartitionLog) -> Int64
    private let clock: @Sendable () -> Int64
    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    private let bytesCleaned = Counter(label: "tern_cleaner_bytes_cleaned_total")
    private let runs = Counter(label: "tern_cleaner_runs_total")
    private let failures = Counter(label: "tern_cleaner_failures_total")

    /// - Parameters:
    ///   - policy: the compaction settings of a partition's topic, or nil when its cleanup policy
    ///     does not include compact.
    ///   - upperBound: the offset cleaning must stay below (the high watermark); the log end by default.
    ///   - clock: wall-clock milliseconds (tombstone ages are measured against record timestamps).
    public init(
        logManager: LogManager, settings: CleanerSettings, logger: Logger,
        policy: @escaping @Sendable (TopicPartition) -> CompactionPolicy?,
        upperBound: @escaping @Sendable (PartitionLog) -> Int64 = { $0.logEndOffset },
        clock: @escaping @Sendable () -> Int64
    ) {
        self.logManager = logManager
        self.settings = settings
        self.logger = logger
        self.policy = policy
        self.upperBound = upperBound
        self.clock = clock
    }

    /// Starts the cleaner threads.
    /// - Throws: `ioError` when a thread cannot be started.
    public func start() throws {
        let count = max(settings.threads, 1)
        let perThread = max(settings.dedupeBufferBytes / count, OffsetMap.slotSize * 2)
        for i in 0..<count {
            state.withLock { $0.running += 1 }
            do {
                try FlusherThread.start(name: "tern-cleaner-\(i)") { [self] in run(mapBytes: perThread) }
            } catch {
                state.withLock { $0.running -= 1 }
                throw error
            }
        }
        logger.info(
            "log cleaner started", metadata: ["tern_threads": "\(count)", "tern_map_bytes_per_thread": "\(perThread)"])
    }

    /// Stops the threads, interrupting cleanings in progress (their `.cleaned` files are
    /// removed; the logs stay as they were), and waits for them to exit.
    public func stop() {
        let running = state.withLock { state -> Int in
            state.stopping = true
            return state.running
        }
        for _ in 0..<running { wakeup.signal() }
        for _ in 0..<running { finished.wait() }
        state.withLock { $0.running = 0 }
    }

    /// Partitions the cleaner gave up on, with the reason.
    public var uncleanablePartitions: [TopicPartition: String] { state.withLock { $0.uncleanable } }

    private var stopping: Bool { state.withLock { $0.stopping } }

    private func run(mapBytes: Int) {
        let map = OffsetMap(bufferBytes: mapBytes)
        while !stopping {
            if cleanDirtiest(using: map) == nil {
                _ = wakeup.wait(timeout: .now() + .milliseconds(Int(clamping: max(settings.backoffMs, 1))))
            }
        }
        finished.signal()
    }

    /// Cleans the log that needs it most, once, on the calling thread; returns which and what
    /// was done, or nil when no log needed cleaning (or it failed).
    @discardableResult
    public func cleanDirtiest(using map: OffsetMap) -> (TopicPartition, CleaningResult)? {
        let now = clock()
        guard let (log, policy, force) = pick(now: now) else { return nil }
        let tp = log.topicPartition
        defer {
            map.clear()  // gives the map's pages back while the thread idles
            state.withLock { _ = $0.inProgress.remove(tp) }
        }
        let options = CleaningOptions(
            deleteRetentionMs: policy.deleteRetentionMs, nowMs: now, upperBound: upperBound(log), force: force)
        do {
            let result = try log.clean(using: map, options: options, shouldStop: { [self] in stopping })
            guard let result else { return nil }
            runs.increment()
            bytesCleaned.increment(by: Int(clamping: result.dirtyBytes))
            recordGauges(log, now: now)
            try logManager.writeCheckpoints()
            return (tp, result)
        } catch let error as StorageError where error.code == .cancelled || error.code == .closed {
            return nil
        } catch where logManager.log(for: tp) !== log {
            return nil  // the log was deleted while it was being cleaned
        } catch {
            failures.increment()
            state.withLock { $0.uncleanable[tp] = "\(error)" }
            logger.error(
                "cannot clean the log; it will not be cleaned again until the broker restarts",
                metadata: ["tern_topic": "\(tp.topic)", "tern_partition": "\(tp.partition)", "error": "\(error)"])
            return nil
        }
    }

    /// The compacted log with the highest dirty ratio at or above its threshold (or with expired
    /// tombstones), marked in progress.
    private func pick(now: Int64) -> (PartitionLog, CompactionPolicy, Bool)? {
        var best: (log: PartitionLog, policy: CompactionPolicy, ratio: Double, force: Bool)?
        let busy = state.withLock { $0.inProgress.union($0.uncleanable.keys) }
        for log in logManager.allLogs where !busy.contains(log.topicPartition) {
            guard let policy = policy(log.topicPartition) else { continue }
            let stats = log.cleanableStats(upperBound: upperBound(log), nowMs: now)
            recordGauges(log.topicPartition, stats)
            let eligible = stats.dirtyBytes > 0 && stats.dirtyRatio >= policy.minCleanableRatio
            guard eligible || stats.tombstonesDue else { continue }
            let ratio = eligible ? stats.dirtyRatio : 0
            if best == nil || ratio > best!.ratio {
                best = (log, policy, ratio, !eligible)
            }
        }
        guard let best else { return nil }
        let claimed = state.withLock { state -> Bool in
            guard !state.stopping, !state.inProgress.contains(best.log.topicPartition) else { return false }
            state.inProgress.insert(best.log.topicPartition)
            return true
        }
        return claimed ? (best.log, best.policy, best.force) : nil
    }

    private func recordGauges(_ log: PartitionLog, now: Int64) {
        recordGauges(log.topicPartition, log.cleanableStats(upperBound: upperBound(log), nowMs: now))
    }

    private func recordGauges(_ tp: TopicPartition, _ stats: CleanableStats) {
        let dimensions = [("topic", tp.topic), ("partition", "\(tp.partition)")]
        Gauge(label: "tern_cleaner_dirty_ratio", dimensions: dimensions).record(stats.dirtyRatio)
        Gauge(label: "tern_cleaner_dirty_bytes", dimensions: dimensions).record(stats.dirtyBytes)
    }
}
