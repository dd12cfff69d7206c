import Dispatch
import Logging
import Synchronization

/// The group-commit flusher. Waiters for durability queue up; one round takes all of them,
/// fdatasyncs each dirty log once, and completes them together, so many producers share one
/// fsync. Runs on its own serial queue: nothing on the network queues ever waits for the disk.
final class Flusher: Sendable {
    typealias Completion = @Sendable (Result<Void, StorageError>) -> Void

    private struct State {
        var pending: [(PartitionLog, Completion)] = []
        var scheduled = false
        var stopped = false
    }

    private let mode: FlushMode
    private let logger: Logger
    private let queue = DispatchQueue(label: "tern.flusher")
    private let state = Mutex(State())
    private let flushes = Atomic<Int>(0)

    init(mode: FlushMode, logger: Logger) {
        self.mode = mode
        self.logger = logger
    }

    var flushCount: Int { flushes.load(ordering: .relaxed) }

    /// In interval mode, starts flushing every log periodically.
    func start(_ logs: @escaping @Sendable () -> [PartitionLog]) {
        guard case .interval(let ms) = mode else { return }
        schedulePeriodicFlush(every: Int(ms), logs)
    }

    private func schedulePeriodicFlush(every ms: Int, _ logs: @escaping @Sendable () -> [PartitionLog]) {
        queue.asyncAfter(deadline: .now() + .milliseconds(ms)) { [self] in
            guard !state.withLock({ $0.stopped }) else { return }
            for log in logs() where log.needsFlush {
                do {
                    try log.flush()
                    flushes.add(1, ordering: .relaxed)
                } catch {
                    logger.error("periodic flush failed", metadata: ["error": "\(error)"])
                }
            }
            schedulePeriodicFlush(every: ms, logs)
        }
    }

    func enqueue(_ log: PartitionLog, _ completion: @escaping Completion) {
        let schedule = state.withLock { state -> Bool? in
            guard !state.stopped else { return nil }
            state.pending.append((log, completion))
            guard !state.scheduled else { return false }
            state.scheduled = true
            return true
        }
        guard let schedule else { return completion(.failure(StorageError(.closed, "the log manager is shut down"))) }
        if schedule { queue.async { [self] in round() } }
    }

    private func round() {
        while true {
            let batch = state.withLock { state -> [(PartitionLog, Completion)] in
                let taken = state.pending
                state.pending = []
                if taken.isEmpty { state.scheduled = false }
                return taken
            }
            if batch.isEmpty { return }
            var results: [ObjectIdentifier: Result<Void, StorageError>] = [:]
            for (log, _) in batch where results[ObjectIdentifier(log)] == nil {
                do {
                    try log.flush()
                    flushes.add(1, ordering: .relaxed)
                    results[ObjectIdentifier(log)] = .success(())
                } catch let error as StorageError {
                    logger.error("fdatasync failed", metadata: ["tern_topic": "\(log.topicPartition)", "error": "\(error)"])
                    results[ObjectIdentifier(log)] = .failure(error)
                } catch {
                    results[ObjectIdentifier(log)] = .failure(StorageError(.ioError, "\(error)"))
                }
            }
            for (log, completion) in batch { completion(results[ObjectIdentifier(log)] ?? .success(())) }
        }
    }

    /// Stops the timer, completes queued waiters, refuses new ones.
    func stop() {
        state.withLock { $0.stopped = true }
        queue.sync { round() }
    }
}
