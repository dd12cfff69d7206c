import Dispatch
import Synchronization
import TernWire

/// Reads records from explicitly assigned partitions, or as a member of a consumer group
/// (``subscribe(topics:onRebalance:)``).
///
/// After ``assign(_:)`` a fetch loop runs in the background: one Fetch request in flight per
/// leader broker, covering every assigned partition it leads, long-polling up to
/// ``ConsumerConfiguration/fetchMaxWait``. Fetched records are buffered (up to
/// ``ConsumerConfiguration/fetchMaxBytes``, then fetching pauses) and handed out by ``poll(timeout:)``
/// or the ``records`` sequence, in offset order within each partition.
///
/// A partition starts where ``seek(_:to:)`` put it, else at
/// ``ConsumerConfiguration/autoOffsetReset``; an out-of-range position is reset the same way (or
/// reported, with `.none`). Call ``close()`` when done: the fetch loop holds the consumer alive.
public final class TernConsumer: Sendable {
    /// The consumer's settings.
    public let configuration: ConsumerConfiguration
    let client: TernClient
    let state = Mutex(ConsumerState())
    /// The fetch session with each leader broker (one fetch in flight per broker uses it).
    let fetchSessions = Mutex<[Int32: FetchSession]>([:])
    private let fetchTask = Mutex<Task<Void, Never>?>(nil)
    /// The consumer's own connections that its fetches use (closed to give up a parked fetch).
    let fetchConnections = FetchConnections()
    /// Group membership (``subscribe(topics:onRebalance:)``).
    let group: Mutex<GroupMembership>
    /// The heartbeat loop of a group consumer.
    let groupTask = Mutex<Task<Void, Never>?>(nil)

    init(client: TernClient, configuration: ConsumerConfiguration) {
        self.client = client
        self.configuration = configuration
        group = Mutex(GroupMembership(configuration))
    }

    private var resetTarget: SeekPosition {
        configuration.autoOffsetReset == .earliest ? .earliest : .latest
    }

    // MARK: Assignment

    /// Reads exactly these partitions from now on. Partitions already assigned keep their
    /// positions; new ones start at ``ConsumerConfiguration/autoOffsetReset`` unless sought.
    /// - Throws: ``TernError`` `.unknownTopic` naming a topic or partition that does not exist.
    public func assign(_ partitions: [TopicPartition]) async throws {
        var snapshot = client.metadata.current
        if partitions.contains(where: { snapshot.topics[$0.topic]?.partition($0.partition) == nil }) {
            snapshot = try await client.metadata.refresh()
        }
        for tp in partitions {
            guard let topic = snapshot.topics[tp.topic] else {
                throw await client.missingTopicError(tp.topic, context: "cannot assign \(tp): topic '\(tp.topic)'")
            }
            guard topic.partition(tp.partition) != nil else {
                throw TernError(
                    .unknownTopic,
                    "cannot assign \(tp): topic '\(tp.topic)' has \(topic.partitionCount) partitions",
                    brokerError: .unknownTopicOrPartition)
            }
        }
        let policy = resetTarget
        try withOpenState { $0.assign(partitions, reset: policy) }
        startFetchLoop()
    }

    /// Reads every partition of `topic` (adding them to the current assignment).
    /// - Throws: ``TernError`` `.unknownTopic` when the topic does not exist.
    public func assign(topic: String) async throws {
        var snapshot = client.metadata.current
        if snapshot.topics[topic] == nil { snapshot = try await client.metadata.refresh() }
        guard let metadata = snapshot.topics[topic] else {
            throw await client.missingTopicError(topic, context: "cannot assign topic '\(topic)'")
        }
        let current = state.withLock { $0.assignment }
        let added = metadata.partitions.map { TopicPartition(topic: topic, partition: $0.partition) }
        try await assign(Array(current.union(added)).sorted())
    }

    /// The assigned partitions.
    public var assignment: [TopicPartition] { state.withLock { $0.assignment }.sorted() }

    // MARK: Positions

    /// Moves a partition's position; `.earliest`, `.latest` and `.timestamp` are looked up with
    /// ListOffsets now. Records already buffered for the partition are dropped.
    /// - Throws: ``TernError``: `.invalidArgument` when `tp` is not assigned, or the lookup's error.
    public func seek(_ tp: TopicPartition, to target: SeekPosition) async throws {
        var resolved = target
        switch target {
        case .offset(let offset):
            guard offset >= 0 else { throw TernError(.invalidArgument, "cannot seek \(tp) to negative offset \(offset)") }
        case .earliest, .latest, .timestamp:
            resolved = .offset(try await lookUp(target, for: tp))
        }
        let moved = try withOpenState { $0.seek(tp, to: resolved) }
        guard moved else { throw TernError(.invalidArgument, "cannot seek \(tp): the partition is not assigned") }
    }

    /// Moves every assigned partition (or `partitions`) to its log start offset.
    /// - Throws: ``TernError`` from the ListOffsets lookup.
    public func seekToBeginning(_ partitions: [TopicPartition]? = nil) async throws {
        try await seekAll(partitions, to: .earliest)
    }

    /// Moves every assigned partition (or `partitions`) to its log end offset.
    /// - Throws: ``TernError`` from the ListOffsets lookup.
    public func seekToEnd(_ partitions: [TopicPartition]? = nil) async throws {
        try await seekAll(partitions, to: .latest)
    }

    private func seekAll(_ partitions: [TopicPartition]?, to target: SeekPosition) async throws {
        let tps = partitions ?? assignment
        let timestamp = target == .earliest ? TernClient.earliestTimestamp : TernClient.latestTimestamp
        let offsets = try await client.listOffsets(Dictionary(uniqueKeysWithValues: tps.map { ($0, timestamp) }))
        try withOpenState { state in
            for tp in tps { if let offset = offsets[tp] { _ = state.seek(tp, to: .offset(offset)) } }
        }
    }

    /// The offset of the next record `poll` will return for `tp`, looked up first if the
    /// partition has no position yet.
    /// - Throws: ``TernError`` `.invalidArgument` when `tp` is not assigned, or the lookup's error.
    public func position(_ tp: TopicPartition) async throws -> Int64 {
        let (current, pending) = state.withLock { ($0.position(tp), $0.pendingResets[tp]) }
        if let current { return current }
        guard let pending else { throw TernError(.invalidArgument, "\(tp) is not assigned") }
        let offset = try await lookUp(pending.target, for: tp)
        state.withLock { $0.resolved(tp, offset: offset, epoch: pending.epoch) }
        return state.withLock { $0.position(tp) } ?? offset
    }

    /// Resolves earliest/latest/timestamp to an offset with ListOffsets.
    func lookUp(_ target: SeekPosition, for tp: TopicPartition) async throws -> Int64 {
        let timestamp: Int64
        switch target {
        case .offset(let offset): return offset
        case .earliest: timestamp = TernClient.earliestTimestamp
        case .latest: timestamp = TernClient.latestTimestamp
        case .timestamp(let ms): timestamp = ms
        }
        let found = try await client.listOffsets([tp: timestamp])[tp] ?? -1
        if found >= 0 { return found }
        // No record at or after the timestamp: start at the end, as Kafka does.
        return try await client.listOffsets([tp: TernClient.latestTimestamp])[tp] ?? 0
    }

    // MARK: Reading

    /// Returns the records fetched so far (up to ``ConsumerConfiguration/maxPollRecords``),
    /// waiting up to `timeout` for some to arrive; an empty array when none did.
    /// - Throws: ``TernError``: `.closed` after ``close()``, `.offsetOutOfRange` with reset
    ///   `.none`, or a fetch error (a corrupt batch, a deleted topic).
    public func poll(timeout: Duration) async throws -> [ConsumerRecord] {
        try await nextRecords(deadline: .now + timeout)
    }

    /// Every record from the assigned partitions as they arrive; ends after ``close()``.
    public var records: ConsumerRecordSequence { ConsumerRecordSequence(consumer: self) }

    /// Waits for records until `deadline` (nil: no limit); returns [] at the deadline.
    func nextRecords(deadline: ContinuousClock.Instant?) async throws -> [ConsumerRecord] {
        let maxRecords = max(1, configuration.maxPollRecords)
        while true {
            try Task.checkCancellation()
            let (records, error, closed, resumeSpace) = state.withLock { state in
                let records = state.take(max: maxRecords)
                let error = records.isEmpty ? state.error : nil
                if error != nil { state.error = nil }
                let resume = state.bufferedBytes < configuration.fetchMaxBytes ? state.spaceWaiters : []
                if !resume.isEmpty { state.spaceWaiters.removeAll() }
                return (records, error, state.closed, resume)
            }
            for waiter in resumeSpace { waiter.resume() }
            if !records.isEmpty { return records }
            if let error { throw error }
            if closed { throw TernError(.closed, "the consumer is closed") }
            if let deadline, deadline <= .now { return [] }
            await waitForRecords(until: deadline)
        }
    }

    /// Suspends until records arrive, an error is set, the consumer closes, `deadline` passes or
    /// the task is cancelled.
    private func waitForRecords(until deadline: ContinuousClock.Instant?) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterId += 1
            return state.nextWaiterId
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.hasSomethingForPoll || Task.isCancelled { return true }
                    state.recordWaiters[id] = continuation
                    return false
                }
                if ready { return continuation.resume() }
                if let deadline {
                    let delay = max(deadline - .now, .zero) + .milliseconds(1)
                    DispatchQueue.global().asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in
                        self?.resumeRecordWaiter(id)
                    }
                }
            }
        } onCancel: {
            resumeRecordWaiter(id)
        }
    }

    private func resumeRecordWaiter(_ id: UInt64) {
        state.withLock { $0.recordWaiters.removeValue(forKey: id) }?.resume()
    }

    /// Wakes every `poll` waiting for records.
    func wakeRecordWaiters() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            defer { state.recordWaiters.removeAll() }
            return Array(state.recordWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Closing

    /// Stops fetching; `poll` then throws `.closed` and ``records`` ends. A group consumer first
    /// commits its positions (with ``ConsumerConfiguration/enableAutoCommit``) and leaves the group.
    /// A fetch in flight is given up (its connection closed), not waited for, so this returns as
    /// soon as the group is left.
    public func close() async {
        await leaveGroup()
        let (spaceWaiters, targetsWaiter) = state.withLock { state in
            state.closed = true
            defer { state.spaceWaiters.removeAll() }
            return (state.spaceWaiters, state.targetsWaiter.take())
        }
        let task = fetchTask.withLock { $0 }
        task?.cancel()
        fetchConnections.closeAll()
        targetsWaiter?.resume()
        for waiter in spaceWaiters { waiter.resume() }
        wakeRecordWaiters()
        await task?.value
    }

    /// Runs `body` on the state unless the consumer is closed.
    func withOpenState<T>(_ body: (inout ConsumerState) -> T) throws -> T {
        try state.withLock { state in
            guard !state.closed else { throw TernError(.closed, "the consumer is closed") }
            return body(&state)
        }
    }

    // MARK: Fetch loop control

    func startFetchLoop() {
        fetchTask.withLock { task in
            guard task == nil else { return }
            task = Task { await self.runFetchLoop() }
        }
    }
}

/// The records of a ``TernConsumer`` as an `AsyncSequence`; it ends when the consumer is closed.
public struct ConsumerRecordSequence: AsyncSequence, Sendable {
    /// Each record.
    public typealias Element = ConsumerRecord
    /// Fetch errors, as ``TernConsumer/poll(timeout:)`` throws them.
    public typealias Failure = any Error

    let consumer: TernConsumer

    /// Iterates over records as they are fetched.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: TernConsumer
        var pending: [ConsumerRecord] = []
        var index = 0

        /// The next record; nil once the consumer is closed.
        /// - Throws: what ``TernConsumer/poll(timeout:)`` throws, except `.closed`.
        public mutating func next() async throws -> ConsumerRecord? {
            while index >= pending.count {
                do {
                    pending = try await consumer.nextRecords(deadline: nil)
                    index = 0
                } catch let error as TernError where error.code == .closed {
                    return nil
                }
            }
            defer { index += 1 }
            return pending[index]
        }
    }

    /// An iterator over the consumer's records.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }
}
