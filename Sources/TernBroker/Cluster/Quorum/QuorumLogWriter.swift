import Dispatch
import Synchronization
import TernRaft
import TernStorage

/// Group commit for a ``RaftDurableStore``: writes queue up while the disk is busy, and each
/// round performs every queued write, in `seq` order, under one sync, on a thread of its own
/// (so no Dispatch worker blocks on `fdatasync`), then reports the last `seq` made durable.
final class QuorumLogWriter: Sendable {
    /// Called on the writer's thread after each round: the last durable `seq`, or the failure
    /// (after which the writer accepts nothing more).
    typealias Completion = @Sendable (Result<UInt64, any Error>) -> Void

    private struct State {
        var pending: [RaftWrite] = []
        /// Work to run after the round's writes (dropping a log prefix), in order.
        var tasks: [@Sendable () throws -> Void] = []
        var signaled = false
        var stopping = false
        var failed = false
        var started = false
    }

    private let store: any RaftDurableStore
    private let completion: Completion
    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// Rounds done and syncs saved, for tests and diagnostics.
    let rounds = Atomic<Int>(0)

    init(store: any RaftDurableStore, completion: @escaping Completion) {
        self.store = store
        self.completion = completion
    }

    func start() throws {
        state.withLock { $0.started = true }
        try FlusherThread.start(name: "tern-quorum-writer") { [self] in run() }
    }

    /// Queues a write for the next round. Ignored once stopping or failed (the node then never
    /// hears `persisted` for it, which is what Raft assumes of a write that did not happen).
    func enqueue(_ write: RaftWrite) {
        let wake = state.withLock { state -> Bool in
            guard !state.stopping, !state.failed else { return false }
            state.pending.append(write)
            guard !state.signaled else { return false }
            state.signaled = true
            return true
        }
        if wake { wakeup.signal() }
    }

    /// Queues `task` to run on the writer's thread after the next round's writes (so it never
    /// races a write to the same files); a failure fails the writer like a failed write.
    func enqueue(task: @escaping @Sendable () throws -> Void) {
        let wake = state.withLock { state -> Bool in
            guard !state.stopping, !state.failed else { return false }
            state.tasks.append(task)
            guard !state.signaled else { return false }
            state.signaled = true
            return true
        }
        if wake { wakeup.signal() }
    }

    /// Finishes the round in progress and the writes already queued, then stops the thread.
    /// Blocks until it has. Idempotent.
    func stop() {
        let (wasStopping, started) = state.withLock { state in
            defer { state.stopping = true }
            return (state.stopping, state.started)
        }
        guard !wasStopping, started else { return }
        wakeup.signal()
        finished.wait()
    }

    private func run() {
        while true {
            wakeup.wait()
            let (batch, tasks, stopping) = state.withLock { state in
                defer {
                    state.pending = []
                    state.tasks = []
                    state.signaled = false
                }
                return (state.pending, state.tasks, state.stopping)
            }
            do {
                if let last = batch.last?.seq {
                    try store.perform(batch)
                    rounds.add(1, ordering: .relaxed)
                    completion(.success(last))
                }
                for task in tasks { try task() }
            } catch {
                state.withLock {
                    $0.failed = true
                    $0.pending = []
                    $0.tasks = []
                }
                completion(.failure(error))
            }
            if stopping {
                finished.signal()
                return
            }
        }
    }
}
