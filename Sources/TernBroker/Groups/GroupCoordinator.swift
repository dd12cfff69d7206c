import DequeModule
import Dispatch
import Logging
import Synchronization
import TernStorage
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// The broker's consumer-group coordinator: the shell around the I/O-free
/// ``GroupCoordinatorState``. The machine decides under a lock that is never held across I/O; the
/// shell appends the decided records to `__consumer_offsets` on its own I/O queue, waits for them
/// to be committed — the flusher's fsync on a single-replica partition, the partition's high
/// watermark (durable on every in-sync replica) on a replicated one (``GroupLogs``) — and only
/// then applies the change and answers. It also rebuilds the groups from that topic as it comes
/// to lead its partitions and runs the timer that fences expired members.
///
/// **Order.** Requests for one group are decided one at a time, in arrival order: while a
/// group's change is being persisted, later requests for that group wait in its queue and are
/// decided on the state that change leaves. Other groups are not held up: a heartbeat of group A
/// that changes nothing persistent is answered at once while group B waits for its fsync.
///
/// **Atomicity and recovery.** A change is one group's, its records are one batch in that group's
/// partition (``GroupChange``), and memory changes only after that batch is durable. What a
/// restart replays in each failure case:
/// - the append fails (`pwrite` error, batch too large, log offline): the log truncates the
///   partial write, so the batch is not in the log; memory is unchanged; the client gets an
///   error. A restart replays the state before the change, as memory shows. (If even the
///   truncation fails the log goes offline and the torn batch, failing its CRC at the tail, is
///   dropped by recovery: the same outcome.)
/// - the flush fails: the batch was written but may or may not survive; memory is unchanged and
///   the client gets an error. The log is offline until a restart, and the partition's groups
///   are made unavailable (COORDINATOR_NOT_AVAILABLE) so nothing is served that the restart may
///   contradict. The restart replays the batch whole or not at all: the group is as before or
///   as after that one change, never a mix, and no other group is affected.
/// - the broker crashes before the flush: as the flush failure; the client got no answer.
/// - success: the batch is durable before memory changes and before the answer, so a restart
///   replays what the client was told.
/// - a replicated partition's batch appended but not seen committed (the high watermark did not
///   pass it within `offsets.commit.timeout.ms`, the in-sync set that passed it was below
///   `min.insync.replicas`, the leadership moved): the client gets an error; the batch may still
///   commit, so the partition's groups are dropped and reloaded from the log once its high
///   watermark reaches the log end (memory never holds what the log may take back, nor misses
///   what it keeps).
/// A request about several groups (DeleteGroups, the session timer) is one change per group,
/// each with its own result: groups on different partitions never share a batch, so a failure on
/// one partition leaves no half-done change on another.
final class GroupCoordinator: Sendable {
    static let topicName = "__consumer_offsets"

    /// A request waiting for its group: decides on the state once every earlier request for the
    /// group has finished.
    struct Job: Sendable {
        let logs: any GroupLogs
        let decide: @Sendable (GroupCoordinatorState) -> Planned
    }

    /// A decided request: the change to persist and apply, and what to do once it is (nil) or
    /// once it failed.
    struct Planned: Sendable {
        let change: GroupChange?
        let finish: @Sendable (GroupStorageFailure?) -> Void
    }

    /// A change whose batch is being appended and flushed: its group is busy meanwhile.
    struct Persisting: Sendable {
        let job: Job
        let planned: Planned
        let change: GroupChange
        /// The leadership term of the change's partition it was decided in: a change that
        /// outlives it is neither appended nor applied (``Leadership``).
        let term: UInt64
    }

    /// The machine and the per-group queues, under one lock.
    struct Shared: Sendable {
        var machine: GroupCoordinatorState
        /// Groups with a change being persisted, and the requests that arrived for them since.
        var busy: [String: Deque<Job>] = [:]
        /// Which `__consumer_offsets` partitions are led, and in which term.
        var leadership = Leadership()
        /// Where led partitions are loaded from (the last ``follow(partitionCount:led:source:)``'s).
        var source: LoadSource?
    }

    let shared: Mutex<Shared>
    /// Appends, and `__consumer_offsets` creation: disk work, off the network queues.
    /// Loads of led partitions run here too, so a load reads everything appended before it.
    let io = DispatchQueue(label: "tern.groups.io", target: .global())
    private let timer = DispatchQueue(label: "tern.groups", target: .global())
    private let stopped = Atomic<Bool>(false)
    let logger: Logger
    /// Failed group writes, logged at a bounded rate (a partition below min ISR fails them all).
    let writeFailures: GroupWriteFailureLog
    /// How often session timeouts are checked.
    let tickInterval: DispatchTimeInterval = .milliseconds(100)

    init(settings: GroupCoordinatorState.Settings, logger: Logger) {
        shared = Mutex(
            Shared(
                machine: GroupCoordinatorState(
                    settings: settings,
                    newMemberId: {
                        var generator = SystemRandomNumberGenerator()
                        return "member-" + String(generator.next() as UInt64, radix: 16)
                            + String(generator.next() as UInt64, radix: 16)
                    })))
        self.logger = logger
        writeFailures = GroupWriteFailureLog(logger: logger)
    }

    /// Monotonic milliseconds: session timers must not jump with the wall clock.
    static func monotonicMs() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// Reads the current (durable) state.
    func read<T: Sendable>(_ body: (GroupCoordinatorState) -> T) -> T {
        shared.withLock { body($0.machine) }
    }

    /// Changes the state directly: for loading at start-up, before any request.
    func withState<T: Sendable>(_ body: (inout GroupCoordinatorState) -> T) -> T {
        shared.withLock { body(&$0.machine) }
    }

    /// Runs disk work on the coordinator's I/O queue (creating `__consumer_offsets`).
    func onIOQueue(_ work: @escaping @Sendable () -> Void) {
        io.async(execute: work)
    }

    // MARK: Requests

    /// Decides a request for `groupId` in its turn, persists the change it makes and applies it,
    /// then calls `completion` with the response, or with `failure`'s when the change could not
    /// be made durable (the state is then as before). `completion` may run on this thread, the
    /// I/O queue or the flusher's thread; it must not block.
    func submit<R: Sendable>(
        _ groupId: String, logs: any GroupLogs,
        decide: @escaping @Sendable (GroupCoordinatorState) -> GroupCoordinatorState.Outcome<R>,
        failure: @escaping @Sendable (ErrorCode, String) -> R,
        completion: @escaping @Sendable (R) -> Void
    ) {
        let job = Job(logs: logs) { state in
            let outcome = decide(state)
            return Planned(change: outcome.change) { error in
                if let error {
                    completion(failure(error.code, error.message))
                } else {
                    completion(outcome.response)
                }
            }
        }
        let (persisting, ready) = shared.withLock { shared -> (Persisting?, Planned?) in
            if shared.busy[groupId] != nil {
                shared.busy[groupId]?.append(job)
                return (nil, nil)
            }
            switch Self.decide(job, groupId, &shared) {
            case .persist(let persisting):
                shared.busy[groupId] = []
                return (persisting, nil)
            case .applied(let planned):
                return (nil, planned)
            }
        }
        ready?.finish(nil)
        if let persisting { io.async { self.persist(persisting) } }
    }

    private enum Decided {
        /// Records to persist first: the group is busy until then.
        case persist(Persisting)
        /// Nothing to persist: applied already (or nothing changed), ready to answer.
        case applied(Planned)
    }

    /// Under the lock: decides one job, applying its change at once when it has no records.
    private static func decide(_ job: Job, _ groupId: String, _ shared: inout Shared) -> Decided {
        let planned = job.decide(shared.machine)
        guard let change = planned.change else { return .applied(planned) }
        precondition(change.groupId == groupId, "a request for \(groupId) changed \(change.groupId)")
        if !change.records.isEmpty {
            return .persist(
                Persisting(
                    job: job, planned: planned, change: change, term: shared.leadership.term(of: change.partition)))
        }
        shared.machine.apply(change)
        return .applied(planned)
    }

    /// Under the lock, once a busy group's change finished: decides its waiting requests in order
    /// until one has records to persist (returned; the group stays busy) or none is left (the
    /// group is free). `ready` collects those answered without persisting.
    private static func advance(_ groupId: String, _ shared: inout Shared, _ ready: inout [Planned]) -> Persisting? {
        while let job = shared.busy[groupId]?.popFirst() {
            switch decide(job, groupId, &shared) {
            case .persist(let persisting): return persisting
            case .applied(let planned): ready.append(planned)
            }
        }
        shared.busy[groupId] = nil
        return nil
    }

    /// On the I/O queue: appends the change's records as one batch and waits for the flush.
    private func persist(_ work: Persisting) {
        let change = work.change
        // Leadership moved since the decision: the partition is another broker's now (or is
        // being reloaded), so nothing is appended to it from this term.
        if let moved = movedFailure(work) { return finish(work, moved) }
        let log: PartitionLog
        do {
            log = try work.job.logs.offsetsLog(change.partition)
        } catch {
            return finish(
                work,
                GroupStorageFailure(
                    .coordinatorNotAvailable, "cannot open \(Self.topicName)-\(change.partition): \(error)"))
        }
        do {
            var builder = RecordBatchBuilder(baseTimestamp: Broker.wallClockMilliseconds(), capacity: 512)
            for record in change.records { builder.append(key: record.key, value: record.value) }
            var bytes = builder.finish()
            let batches = try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
            let appended = try work.job.logs.appendGroupBatch(&bytes, batches: batches, to: log)
            work.job.logs.whenCommitted(log, appended) { self.finish(work, $0) }
        } catch let failure as GroupStorageFailure {
            // A replicated partition refused the append (this broker does not lead it, or its
            // in-sync set is below min.insync.replicas): nothing was written.
            finish(work, failure)
        } catch let error as StorageError where error.code == .messageTooLarge {
            // One change is one batch: a change too large for one (e.g. deleting a group with
            // tens of thousands of offsets) is refused whole, as MESSAGE_TOO_LARGE.
            finish(work, GroupStorageFailure(.messageTooLarge, "the group change does not fit in one batch: \(error)"))
        } catch {
            finish(work, GroupStorageFailure(.kafkaStorageError, "\(error)"))
        }
    }

    /// Applies a durable change (or, after a failure, leaves the state as it was), answers, and
    /// moves the group's queue on.
    private func finish(_ work: Persisting, _ failure: GroupStorageFailure?) {
        let change = work.change
        if let failure {
            writeFailures.failed(group: change.groupId, partition: change.partition, failure)
        } else {
            writeFailures.persisted(partition: change.partition)
        }
        var ready: [Planned] = []
        let (next, outcome, reload) = shared.withLock {
            shared -> (Persisting?, GroupStorageFailure?, (UInt64, LoadSource)?) in
            var outcome = failure
            // Durable, but the partition's leadership moved meanwhile: its groups were dropped
            // (or reloaded from the log, this batch included), so memory is not changed and the
            // client, told NOT_COORDINATOR, finds the new coordinator and retries.
            if outcome == nil, shared.leadership.term(of: change.partition) != work.term {
                outcome = GroupStorageFailure(
                    .notCoordinator, "the leadership of \(Self.topicName)-\(change.partition) moved during the change")
            }
            var reload: (UInt64, LoadSource)?
            switch outcome {
            case nil: shared.machine.apply(change)
            case let failure? where failure.reload:
                // In a replicated leader's log but not seen committed: it may still commit (the
                // leader keeps its log), so memory is rebuilt from the log once the high
                // watermark passes all of it, rather than left to disagree with the log.
                if shared.leadership.term(of: change.partition) == work.term {
                    reload = Self.beginReload(change.partition, &shared)
                }
            case let failure? where failure.written: shared.machine.unavailablePartitions.insert(change.partition)
            case _?: break
            }
            return (Self.advance(change.groupId, &shared, &ready), outcome, reload)
        }
        work.planned.finish(outcome)
        for planned in ready { planned.finish(nil) }
        if let (term, source) = reload {
            io.async { self.load(change.partition, term: term, source: source, attempt: 1) }
        }
        if let next { io.async { self.persist(next) } }
    }

    // MARK: Timer

    func start(_ broker: Broker) {
        schedule(broker)
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        timer.sync {}
    }

    private func schedule(_ broker: Broker) {
        timer.asyncAfter(deadline: .now() + tickInterval) { [weak broker, self] in
            guard let broker, !stopped.load(ordering: .relaxed) else { return }
            expireSessions(nowMs: Self.monotonicMs(), counts: broker.partitionCounts, logs: broker)
            schedule(broker)
        }
    }

    /// Fences the members whose session or revocation deadline passed: one change per group,
    /// each through its group's queue like a request. A group busy with a change is left for the
    /// next tick.
    func expireSessions(nowMs: Int64, counts: @escaping GroupCoordinatorState.PartitionCounts, logs: any GroupLogs) {
        let expired = shared.withLock { shared in
            shared.machine.expiredGroups(nowMs: nowMs).filter { shared.busy[$0] == nil }
        }
        for groupId in expired {
            submit(
                groupId, logs: logs,
                decide: { state in
                    let change = state.expire(groupId, nowMs: nowMs, counts: counts)
                    return .init(response: change != nil, change: change)
                },
                failure: { _, _ in false },
                completion: { [logger] fenced in
                    if fenced {
                        logger.info(
                            "fenced consumer group members whose session expired",
                            metadata: ["tern_group": "\(groupId)"])
                    }
                })
        }
    }

    // MARK: Metrics

    /// Every committed offset, for the lag gauges set at scrape time.
    func committedOffsets() -> [(group: String, tp: TopicPartition, offset: Int64)] {
        shared.withLock { shared in
            shared.machine.groups.values.flatMap { group in
                group.offsets.map { (group.groupId, $0.key, $0.value) }
            }
        }
    }
}

/// Why a group change was not made: the error code and message its requester gets.
struct GroupStorageFailure: Error, Sendable {
    let code: ErrorCode
    let message: String
    /// The batch was written but its flush failed: it may or may not be replayed at restart.
    let written: Bool
    /// The batch is in a replicated leader's log but was not seen committed (timed out, the
    /// in-sync set fell below `min.insync.replicas`): the partition's groups are reloaded.
    let reload: Bool

    init(_ code: ErrorCode, _ message: String, written: Bool = false, reload: Bool = false) {
        self.code = code
        self.message = message
        self.written = written
        self.reload = reload
    }
}
