import Dispatch
import Logging
import Synchronization

/// Logs that asked for a flush off their append path (a segment rolled), and the semaphore that
/// wakes the ``BackgroundFlusher`` for them. Shared by a ``LogManager``'s logs; asking takes a
/// short lock and never touches the disk, so it may be done under a log's lock.
final class FlushRequests: Sendable {
    private let requested = Mutex<[ObjectIdentifier: PartitionLog]>([:])
    let wakeup = DispatchSemaphore(value: 0)

    /// Asks for `log` to be flushed soon.
    func request(_ log: PartitionLog) {
        let first = requested.withLock { $0.updateValue(log, forKey: ObjectIdentifier(log)) == nil }
        if first { wakeup.signal() }
    }

    /// The logs asked for since the last call.
    func take() -> [PartitionLog] {
        requested.withLock { requested in
            defer { requested = [:] }
            return Array(requested.values)
        }
    }
}

/// The flushes nobody waits for, on a thread of their own: every `flushIntervalMs` each log with
/// unflushed data is flushed (whatever the acks of what was appended — `acks=all` waiters are
/// served by the group-commit ``Flusher`` and are not delayed by this), a log whose segment rolled
/// is flushed at once (as Kafka flushes a rolled segment off the append path), and every
/// `checkpointIntervalMs` the recovery-point checkpoints are written, so that a restart after a
/// crash scans only what was appended since.
final class BackgroundFlusher: Sendable {
    private let flushIntervalMs: Int64?
    private let checkpointIntervalMs: Int64?
    private let requests: FlushRequests
    private let logger: Logger
    private let logs: @Sendable () -> [PartitionLog]
    private let checkpoint: @Sendable () throws -> Void
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - flushIntervalMs: how often logs with unflushed data are flushed; nil: only when asked.
    ///   - checkpointIntervalMs: how often `checkpoint` runs; nil: never.
    init(
        flushIntervalMs: Int64?, checkpointIntervalMs: Int64?, requests: FlushRequests, logger: Logger,
        logs: @escaping @Sendable () -> [PartitionLog], checkpoint: @escaping @Sendable () throws -> Void
    ) {
        self.flushIntervalMs = flushIntervalMs.map { max($0, 1) }
        self.checkpointIntervalMs = checkpointIntervalMs.map { max($0, 1) }
        self.requests = requests
        self.logger = logger
        self.logs = logs
        self.checkpoint = checkpoint
    }

    func start() throws {
        try FlusherThread.start(name: "tern-background-flusher") { [self] in run() }
    }

    private func run() {
        let start = FileSystem.monotonicMilliseconds()
        var nextFlush = flushIntervalMs.map { start + $0 } ?? .max
        var nextCheckpoint = checkpointIntervalMs.map { start + $0 } ?? .max
        while true {
            let wait = min(nextFlush, nextCheckpoint) - FileSystem.monotonicMilliseconds()
            if wait > 0 {
                // `.max` deadlines mean "until asked" (a roll or the stop).
                let timeout: DispatchTime =
                    min(nextFlush, nextCheckpoint) == .max
                    ? .distantFuture : .now() + .milliseconds(Int(clamping: wait))
                _ = requests.wakeup.wait(timeout: timeout)
            }
            if stopping.load(ordering: .relaxed) { break }
            for log in requests.take() where log.needsFlush { flush(log) }
            let now = FileSystem.monotonicMilliseconds()
            if let interval = flushIntervalMs, now >= nextFlush {
                for log in logs() where log.needsFlush { flush(log) }
                nextFlush = FileSystem.monotonicMilliseconds() + interval
            }
            if let interval = checkpointIntervalMs, now >= nextCheckpoint {
                do {
                    try checkpoint()
                } catch {
                    logger.error("cannot write the recovery-point checkpoints", metadata: ["error": "\(error)"])
                }
                nextCheckpoint = FileSystem.monotonicMilliseconds() + interval
            }
        }
        finished.signal()
    }

    private func flush(_ log: PartitionLog) {
        do {
            try log.flush(writingActiveIndexes: true)
            // A rolled segment's key index file is written here, off the append path.
            if log.keyIndexBits.load(ordering: .relaxed) >= 0 { log.sealKeyIndexes(waiting: false) }
        } catch let error as StorageError where error.code == .notFound {
            // Deleted since it was listed: nothing to make durable.
        } catch {
            // The log is now offline (PartitionLog.flush says why); acks=all producers see it.
            logger.error(
                "background flush failed",
                metadata: [
                    "tern_topic": "\(log.topicPartition.topic)", "tern_partition": "\(log.topicPartition.partition)",
                    "error": "\(error)",
                ])
        }
    }

    /// Ends the thread after the flush in progress, if any, and waits for it. Idempotent.
    func stop() {
        guard requestStop() else { return }
        finished.wait()
    }

    /// Asks the thread to end without waiting; false when already asked.
    @discardableResult
    func requestStop() -> Bool {
        guard !stopping.exchange(true, ordering: .relaxed) else { return false }
        requests.wakeup.signal()
        return true
    }
}
