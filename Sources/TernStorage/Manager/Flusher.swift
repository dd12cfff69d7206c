import Dispatch
import Logging
import Synchronization

/// The group-commit flusher: one dedicated thread that does every `fdatasync` for a
/// ``LogManager``, so no Dispatch worker ever blocks on the disk.
///
/// In `.sync` mode, waiters for durability queue up; each round takes all of them, flushes each
/// log they name once, and completes them together, so many producers share one `fdatasync`. In
/// `.interval` mode nobody waits. Flushes nobody waits for (periodic ones, after a roll) are the
/// ``BackgroundFlusher``'s, on another thread, so they never delay a group commit.
final class Flusher: Sendable {
    typealias Completion = @Sendable (Result<Void, StorageError>) -> Void

    struct Waiter: Sendable {
        let log: PartitionLog
        let offset: Int64
        let completion: Completion
    }

    private struct State {
        var pending: [Waiter] = []
        /// The thread has been woken for the pending waiters (bounds the semaphore's count).
        var signaled = false
        var stopping = false
    }

    let mode: FlushMode
    private let logger: Logger
    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(mode: FlushMode, logger: Logger) {
        self.mode = mode
        self.logger = logger
    }

    func start() throws {
        try FlusherThread.start(name: "tern-flusher") { [self] in run() }
    }

    /// Queues a waiter for the next round; fails it at once when the flusher is stopping.
    func enqueue(_ waiter: Waiter) {
        let wake = state.withLock { state -> Bool? in
            guard !state.stopping else { return nil }
            state.pending.append(waiter)
            guard !state.signaled else { return false }
            state.signaled = true
            return true
        }
        switch wake {
        case nil: waiter.completion(.failure(StorageError(.closed, "the log manager is shut down")))
        case true?: wakeup.signal()
        case false?: break
        }
    }

    private func run() {
        while true {
            wakeup.wait()
            let (batch, stopping) = state.withLock { state in
                let batch = state.pending
                state.pending = []
                state.signaled = false
                return (batch, state.stopping)
            }
            if !batch.isEmpty { commit(batch) }
            if stopping {
                finished.signal()
                return
            }
        }
    }

    /// One group commit: each log flushed once, every waiter completed.
    private func commit(_ batch: [Waiter]) {
        var results: [ObjectIdentifier: Result<Void, StorageError>] = [:]
        for waiter in batch where results[ObjectIdentifier(waiter.log)] == nil {
            results[ObjectIdentifier(waiter.log)] = flush(waiter.log)
        }
        for waiter in batch {
            switch results[ObjectIdentifier(waiter.log)] ?? .success(()) {
            case .failure(let error):
                waiter.completion(.failure(error))
            case .success:
                let recoveryPoint = waiter.log.recoveryPoint
                if recoveryPoint >= waiter.offset {
                    waiter.completion(.success(()))
                } else {
                    waiter.completion(
                        .failure(
                            StorageError(
                                .offsetOutOfRange,
                                "\(waiter.log.topicPartition): offsets below \(waiter.offset) are not in the log "
                                    + "(durable up to \(recoveryPoint))"
                            )))
                }
            }
        }
    }

    private func flush(_ log: PartitionLog) -> Result<Void, StorageError> {
        do {
            try log.flush()
            return .success(())
        } catch {
            let failure = error as? StorageError ?? StorageError(.ioError, "\(log.topicPartition): \(error)")
            logger.error(
                "flush failed",
                metadata: [
                    "tern_topic": "\(log.topicPartition.topic)", "tern_partition": "\(log.topicPartition.partition)",
                    "error": "\(failure)",
                ])
            return .failure(failure)
        }
    }

    /// Completes what is queued, then ends the thread; later waiters fail with `closed`. Must not
    /// be called from a completion (it waits for the thread that runs them).
    func stop() {
        guard requestStop() else { return }
        finished.wait()
    }

    /// Asks the thread to finish without waiting for it; false when already asked.
    @discardableResult
    func requestStop() -> Bool {
        let first = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.stopping = true
            return true
        }
        if first { wakeup.signal() }
        return first
    }
}
