import DequeModule

/// What a ``TernConsumer`` knows, behind its lock: assigned partitions with their positions, and
/// fetched records not yet handed to the application. I/O-free; the consumer's fetch loop and
/// `poll` drive it.
struct ConsumerState: Sendable {
    struct PartitionState: Sendable {
        /// Next offset to fetch; nil until a reset is resolved.
        var fetchPosition: Int64?
        /// Next offset to hand to the application.
        var position: Int64?
        /// Bumped by every seek or reset: fetch results and buffered records of an older epoch
        /// are dropped.
        var epoch: UInt64
        /// A position still to be looked up with ListOffsets.
        var reset: SeekPosition?
        /// No fetch before this (backoff after an error).
        var retryAt: ContinuousClock.Instant?
        /// The leader epoch of the last batch fetched before `fetchPosition` (Fetch's
        /// `lastFetchedEpoch`, KIP-595); -1 when unknown (nothing fetched since the last seek).
        var lastFetchedEpoch: Int32 = -1
        /// The partition's leader epoch under which `fetchPosition` was last fetched or validated;
        /// -1 before the first fetch. Metadata naming a newer one sends the position to be
        /// validated (OffsetForLeaderEpoch, KIP-320) before the next fetch.
        var leaderEpoch: Int32 = -1
    }

    /// Records of one partition from one fetch, handed out from `next`.
    struct Chunk: Sendable {
        var tp: TopicPartition
        var epoch: UInt64
        var records: [ConsumerRecord]
        var next = 0
        var bytes: Int
    }

    /// A partition to include in a fetch.
    struct FetchTarget: Sendable, Hashable {
        var tp: TopicPartition
        var offset: Int64
        var epoch: UInt64
        /// The partition's leader epoch from the metadata (Fetch's `currentLeaderEpoch`); -1: unknown.
        var currentLeaderEpoch: Int32 = -1
        /// ``PartitionState/lastFetchedEpoch``.
        var lastFetchedEpoch: Int32 = -1
    }

    /// A position to validate with the partition's new leader (OffsetForLeaderEpoch) after its
    /// leader epoch changed.
    struct Validation: Sendable, Hashable {
        var tp: TopicPartition
        var leader: Int32
        var currentLeaderEpoch: Int32
        var lastFetchedEpoch: Int32
        var offset: Int64
        var epoch: UInt64
    }

    var partitions: [TopicPartition: PartitionState] = [:]
    private(set) var buffer = Deque<Chunk>()
    private(set) var bufferedBytes = 0
    /// An error to throw from the next `poll`.
    var error: TernError?
    var closed = false
    private var epochs: UInt64 = 0

    /// Bumped whenever what to fetch changes other than by a fetch's own result (assignment,
    /// seek, resolved position): a fetch sent before the bump may be stale.
    private(set) var targetsVersion: UInt64 = 0
    /// The fetch loop, waiting for ``targetsVersion`` to move (to supersede a stale fetch).
    var targetsWaiter: CheckedContinuation<Void, Never>?

    var recordWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    var nextWaiterId: UInt64 = 0

    /// The assigned partitions.
    var assignment: Set<TopicPartition> { Set(partitions.keys) }

    private mutating func newEpoch() -> UInt64 {
        epochs += 1
        return epochs
    }

    /// Records that what to fetch changed and wakes the fetch loop (resuming a continuation only
    /// schedules its task, so it is safe under the consumer's lock).
    private mutating func targetsChanged() {
        targetsVersion &+= 1
        targetsWaiter.take()?.resume()
    }

    // MARK: Assignment and positions

    /// Replaces the assignment. Partitions already assigned keep their positions; new ones start
    /// at `reset`; dropped ones lose their buffered records.
    mutating func assign(_ tps: some Sequence<TopicPartition>, reset: SeekPosition) {
        let wanted = Set(tps)
        for tp in partitions.keys where !wanted.contains(tp) { partitions[tp] = nil }
        for tp in wanted where partitions[tp] == nil {
            partitions[tp] = PartitionState(fetchPosition: nil, position: nil, epoch: newEpoch(), reset: reset)
        }
        dropBuffered { !wanted.contains($0.tp) }
        targetsChanged()
    }

    /// Adds partitions (group assignment), each starting at an offset or at a position to resolve.
    /// Partitions already assigned are left as they are.
    mutating func add(_ starts: [TopicPartition: SeekPosition]) {
        defer { targetsChanged() }
        for (tp, start) in starts where partitions[tp] == nil {
            if case .offset(let offset) = start {
                partitions[tp] = PartitionState(fetchPosition: offset, position: offset, epoch: newEpoch(), reset: nil)
            } else {
                partitions[tp] = PartitionState(fetchPosition: nil, position: nil, epoch: newEpoch(), reset: start)
            }
        }
    }

    /// Removes partitions (revoked or lost), dropping their buffered records.
    mutating func remove(_ tps: Set<TopicPartition>) {
        for tp in tps { partitions[tp] = nil }
        dropBuffered { tps.contains($0.tp) }
        targetsChanged()
    }

    /// Moves `tp` to `offset` (or to a position to resolve), dropping what was buffered for it.
    /// - Returns: false when `tp` is not assigned.
    mutating func seek(_ tp: TopicPartition, to target: SeekPosition) -> Bool {
        guard partitions[tp] != nil else { return false }
        let epoch = newEpoch()
        if case .offset(let offset) = target {
            partitions[tp] = PartitionState(fetchPosition: offset, position: offset, epoch: epoch, reset: nil)
        } else {
            partitions[tp] = PartitionState(fetchPosition: nil, position: nil, epoch: epoch, reset: target)
        }
        dropBuffered { $0.tp == tp }
        targetsChanged()
        return true
    }

    /// Puts `tp` in `newState` under a new epoch: what was fetched or buffered for it is dropped.
    mutating func replace(_ tp: TopicPartition, with newState: PartitionState) {
        var newState = newState
        newState.epoch = newEpoch()
        partitions[tp] = newState
        dropBuffered { $0.tp == tp }
        targetsChanged()
    }

    /// Partitions whose position must be looked up, with what to look up and their epoch.
    var pendingResets: [TopicPartition: (target: SeekPosition, epoch: UInt64)] {
        var result: [TopicPartition: (target: SeekPosition, epoch: UInt64)] = [:]
        for (tp, state) in partitions {
            if let reset = state.reset { result[tp] = (reset, state.epoch) }
        }
        return result
    }

    /// Stores a looked-up position, unless the partition was sought elsewhere meanwhile.
    mutating func resolved(_ tp: TopicPartition, offset: Int64, epoch: UInt64) {
        guard let state = partitions[tp], state.epoch == epoch, state.reset != nil else { return }
        partitions[tp] = PartitionState(fetchPosition: offset, position: offset, epoch: newEpoch(), reset: nil)
        targetsChanged()
    }

    /// The next offset `poll` will return for `tp`; nil when not assigned or not yet resolved.
    func position(_ tp: TopicPartition) -> Int64? {
        partitions[tp]?.position
    }

    // MARK: Fetching

    /// The partitions that can be fetched now, by leader, in no particular order (this runs
    /// twice per fetch over every assigned partition, so it does not sort; the broker's fetch
    /// session rotates partitions for fairness).
    /// Partitions whose position waits for validation (``pendingValidations``) are left out.
    func fetchTargets(
        now: ContinuousClock.Instant, leader: (TopicPartition) -> Int32?,
        leaderEpoch: (TopicPartition) -> Int32 = { _ in -1 }
    ) -> (byLeader: [Int32: [FetchTarget]], leaderless: [TopicPartition]) {
        var byLeader: [Int32: [FetchTarget]] = [:]
        var leaderless: [TopicPartition] = []
        for (tp, state) in partitions {
            guard let offset = state.fetchPosition else { continue }
            if let retryAt = state.retryAt, retryAt > now { continue }
            guard let node = leader(tp) else {
                leaderless.append(tp)
                continue
            }
            let current = leaderEpoch(tp)
            if Self.needsValidation(state, currentLeaderEpoch: current) { continue }
            byLeader[node, default: []].append(
                FetchTarget(
                    tp: tp, offset: offset, epoch: state.epoch, currentLeaderEpoch: current,
                    lastFetchedEpoch: state.lastFetchedEpoch))
        }
        return (byLeader, leaderless)
    }

    /// Whether a position must be checked with the leader before the next fetch: it was fetched
    /// (its last batch's epoch is known) under an older leader epoch than the metadata's now.
    static func needsValidation(_ state: PartitionState, currentLeaderEpoch: Int32) -> Bool {
        state.lastFetchedEpoch >= 0 && state.leaderEpoch >= 0 && currentLeaderEpoch > state.leaderEpoch
    }

    /// The positions to validate now with their partitions' leaders (KIP-320).
    func pendingValidations(
        now: ContinuousClock.Instant, leader: (TopicPartition) -> Int32?, leaderEpoch: (TopicPartition) -> Int32
    ) -> [Validation] {
        var validations: [Validation] = []
        for (tp, state) in partitions {
            guard let offset = state.fetchPosition, let node = leader(tp) else { continue }
            if let retryAt = state.retryAt, retryAt > now { continue }
            let current = leaderEpoch(tp)
            guard Self.needsValidation(state, currentLeaderEpoch: current) else { continue }
            validations.append(
                Validation(
                    tp: tp, leader: node, currentLeaderEpoch: current, lastFetchedEpoch: state.lastFetchedEpoch,
                    offset: offset, epoch: state.epoch))
        }
        return validations
    }

    /// What applying a fetch response asks of the consumer.
    struct FetchEffects: Sendable {
        var refreshMetadata = false
        var resetsAdded = false
        /// The partition's log was found truncated below the consumer's position: reported by
        /// the consumer (log and ``ConsumerConfiguration/onLogTruncation``).
        var truncation: LogTruncation?
    }

    /// Applies one partition's fetch result, unless a seek or an earlier result moved it.
    mutating func apply(
        _ result: FetchedPartition, for target: FetchTarget, policy: ConsumerConfiguration.OffsetReset,
        now: ContinuousClock.Instant, backoff: Duration
    ) -> FetchEffects {
        var effects = FetchEffects()
        guard let state = partitions[target.tp], state.epoch == target.epoch, state.fetchPosition == target.offset else {
            return effects
        }
        switch result {
        case .records(let records, let nextOffset, let bytes, let lastEpoch):
            partitions[target.tp]?.fetchPosition = nextOffset
            partitions[target.tp]?.retryAt = nil
            if let lastEpoch { partitions[target.tp]?.lastFetchedEpoch = lastEpoch }
            if target.currentLeaderEpoch >= 0 { partitions[target.tp]?.leaderEpoch = target.currentLeaderEpoch }
            if !records.isEmpty {
                buffer.append(Chunk(tp: target.tp, epoch: target.epoch, records: records, bytes: bytes))
                bufferedBytes += bytes
            }
        case .offsetOutOfRange(let error):
            if policy == .none {
                self.error = TernError(.offsetOutOfRange, error.message, brokerError: .offsetOutOfRange)
                partitions[target.tp]?.retryAt = now + backoff
            } else {
                _ = seek(target.tp, to: policy == .earliest ? .earliest : .latest)
                effects.resetsAdded = true
            }
        case .diverged(let divergingEpoch, let endOffset):
            effects.truncation = diverged(
                target.tp, at: EpochEnd(epoch: divergingEpoch, endOffset: endOffset),
                currentLeaderEpoch: target.currentLeaderEpoch, policy: policy, now: now, backoff: backoff)
        case .retriable:
            partitions[target.tp]?.retryAt = now + backoff
            effects.refreshMetadata = true
        case .failed(let error):
            self.error = error
            partitions[target.tp]?.retryAt = now + backoff
        }
        return effects
    }

    /// Holds `tp` back after a failed request.
    mutating func backOff(_ tp: TopicPartition, until instant: ContinuousClock.Instant) {
        partitions[tp]?.retryAt = instant
    }

    // MARK: Handing out records

    /// True when `poll` has something to return (records or an error) or the consumer closed.
    var hasSomethingForPoll: Bool { !buffer.isEmpty || error != nil || closed }

    /// Takes up to `max` buffered records, advancing each partition's position past them.
    mutating func take(max: Int) -> [ConsumerRecord] {
        var taken: [ConsumerRecord] = []
        while taken.count < max, var chunk = buffer.popFirst() {
            guard let state = partitions[chunk.tp], state.epoch == chunk.epoch else {
                bufferedBytes -= chunk.bytes
                continue
            }
            let end = min(chunk.records.count, chunk.next + (max - taken.count))
            taken.append(contentsOf: chunk.records[chunk.next..<end])
            chunk.next = end
            if let last = taken.last { partitions[chunk.tp]?.position = last.offset + 1 }
            if chunk.next < chunk.records.count {
                buffer.prepend(chunk)
            } else {
                bufferedBytes -= chunk.bytes
            }
        }
        return taken
    }

    private mutating func dropBuffered(where shouldDrop: (Chunk) -> Bool) {
        var kept = Deque<Chunk>()
        for chunk in buffer {
            if shouldDrop(chunk) { bufferedBytes -= chunk.bytes } else { kept.append(chunk) }
        }
        buffer = kept
    }
}
