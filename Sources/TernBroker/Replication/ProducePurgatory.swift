import Dispatch
import Synchronization
import TernStorage
import TernWire

/// `acks=all` produces of replicated partitions waiting for the high watermark to pass their
/// batches (never a blocked thread). A waiter completes exactly once: when the high watermark
/// reaches its end offset, when its partition's replica stops leading, when its deadline (the
/// request's `timeoutMs`) passes, or at shutdown.
final class ProducePurgatory: Sendable {
    typealias Completion = @Sendable (ErrorCode) -> Void

    private struct Waiter {
        var id: UInt64
        var endOffset: Int64
        /// The leader epoch the batch was appended in: only that epoch's high watermark answers it.
        var leaderEpoch: Int32
        var deadline: DispatchTime
        var completion: Completion
    }

    private struct State {
        var byPartition: [TopicPartition: [Waiter]] = [:]
        var nextId: UInt64 = 0
        var sweeping = false
    }

    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "tern.produce-purgatory", target: .global())
    /// How often deadlines are checked while anything waits.
    private let sweepInterval: DispatchTimeInterval = .milliseconds(50)

    /// Parks a produce appended in `leaderEpoch` until the high watermark of `tp` in that epoch
    /// reaches `endOffset` (exclusive), or `timeoutMs` passes (REQUEST_TIMED_OUT).
    func park(
        _ tp: TopicPartition, endOffset: Int64, leaderEpoch: Int32, timeoutMs: Int, completion: @escaping Completion
    ) {
        let startSweeper = state.withLock { state -> Bool in
            state.nextId += 1
            state.byPartition[tp, default: []].append(
                Waiter(
                    id: state.nextId, endOffset: endOffset, leaderEpoch: leaderEpoch,
                    deadline: .now() + .milliseconds(max(timeoutMs, 1)), completion: completion))
            defer { state.sweeping = true }
            return !state.sweeping
        }
        if startSweeper { queue.asyncAfter(deadline: .now() + sweepInterval) { [self] in sweep() } }
    }

    /// The high watermark of `tp` in `leaderEpoch` reached `highWatermark`: completes the
    /// waiters of that epoch it passes, with `code` (`.none`, or NOT_ENOUGH_REPLICAS_AFTER_APPEND
    /// when the set that passed them was smaller than `min.insync.replicas`), and fails those of
    /// an older epoch with NOT_LEADER_OR_FOLLOWER: their batch may have been truncated and its
    /// offsets reused since (a waiter parked just after its replica stopped leading escaped
    /// ``fail(_:_:)``), so a later epoch's high watermark says nothing about it.
    func advance(_ tp: TopicPartition, highWatermark: Int64, leaderEpoch: Int32, code: ErrorCode = .none) {
        let (done, stale): ([Waiter], [Waiter]) = state.withLock { state in
            guard let list = state.byPartition[tp] else { return ([], []) }
            var done: [Waiter] = []
            var stale: [Waiter] = []
            var kept: [Waiter] = []
            for w in list {
                if w.leaderEpoch < leaderEpoch {
                    stale.append(w)
                } else if w.leaderEpoch == leaderEpoch && w.endOffset <= highWatermark {
                    done.append(w)
                } else {
                    kept.append(w)
                }
            }
            state.byPartition[tp] = kept.isEmpty ? nil : kept
            return (done, stale)
        }
        for w in stale { w.completion(.notLeaderOrFollower) }
        for w in done { w.completion(code) }
    }

    /// Fails every waiter of `tp` with `code` (the replica stopped leading).
    func fail(_ tp: TopicPartition, _ code: ErrorCode) {
        let done = state.withLock { $0.byPartition.removeValue(forKey: tp) ?? [] }
        for w in done { w.completion(code) }
    }

    /// Fails every waiter (shutdown).
    func failAll(_ code: ErrorCode) {
        let done = state.withLock { state in
            defer { state.byPartition = [:] }
            return state.byPartition.values.flatMap { $0 }
        }
        for w in done { w.completion(code) }
    }

    /// Waiters parked now (tests and diagnostics).
    var count: Int { state.withLock { $0.byPartition.values.reduce(0) { $0 + $1.count } } }

    private func sweep() {
        let now = DispatchTime.now()
        let (expired, again) = state.withLock { state -> ([Waiter], Bool) in
            var expired: [Waiter] = []
            for (tp, list) in state.byPartition {
                let kept = list.filter { w in
                    if w.deadline <= now {
                        expired.append(w)
                        return false
                    }
                    return true
                }
                state.byPartition[tp] = kept.isEmpty ? nil : kept
            }
            state.sweeping = !state.byPartition.isEmpty
            return (expired, state.sweeping)
        }
        for w in expired { w.completion(.requestTimedOut) }
        if again { queue.asyncAfter(deadline: .now() + sweepInterval) { [self] in sweep() } }
    }
}
