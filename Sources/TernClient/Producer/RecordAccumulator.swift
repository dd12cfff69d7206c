import DequeModule
import TernWire

/// The producer's per-partition queues of record batches: an I/O-free state machine driven by
/// appends, the clock and send outcomes, kept behind the producer's lock.
///
/// Each partition has a queue whose last batch may be open. A batch becomes ready to send when it
/// is closed (the next record did not fit), when its linger time has passed, or while a flush is
/// waiting. A partition has at most one request in flight; everything ready in it when that
/// request completes travels in the next one, so order within a partition holds across retries.
///
/// Not `Sendable`: its partition queues are objects mutated in place, and the accumulator lives
/// inside the producer's `Mutex`, which is what makes sharing it safe.
struct RecordAccumulator {
    struct Configuration: Sendable {
        var batchSize: Int
        var linger: Duration
        var deliveryTimeout: Duration
        var maxRequestSize: Int
        var compression: CompressionCodec = .none
        /// Idempotent producer: at most this many batches of a partition in one request (the
        /// broker remembers a producer's last 5), and a retried group travels alone.
        var maxBatchesPerRequest: Int = .max
    }

    /// What `append` did.
    struct AppendOutcome: Equatable {
        /// A new batch was opened (the caller arms the linger timer).
        var openedBatch: Bool
        /// A batch was closed and is ready to send (the caller drains).
        var closedBatch: Bool
        /// Bytes the partition's batches grew by.
        var addedBytes: Int
    }

    /// Batches to send, by leader node.
    struct Drain: Sendable {
        var requests: [Int32: [(TopicPartition, [ProducerBatch])]] = [:]
        /// Partitions whose open batch was closed for sending (the sticky partitioner moves on).
        var closedOpenBatches: [TopicPartition] = []
        /// Ready partitions without a known leader (metadata needs a refresh).
        var leaderless: [TopicPartition] = []
        /// Nodes with ready batches that could not take a request now.
        var blockedNodes: Set<Int32> = []
    }

    let configuration: Configuration
    private(set) var queues: [TopicPartition: PartitionQueue] = [:]
    /// Bytes of every batch not yet completed, queued or in flight.
    private(set) var bufferedBytes = 0
    /// The queue appended to last: consecutive records of one partition (the common case, with
    /// the sticky partitioner) skip hashing the topic-partition.
    private var recent: (tp: TopicPartition, queue: PartitionQueue)?

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The queue of `tp`, created when missing.
    private mutating func queue(for tp: TopicPartition) -> PartitionQueue {
        if let recent, recent.tp == tp { return recent.queue }
        let queue: PartitionQueue
        if let existing = queues[tp] {
            queue = existing
        } else {
            queue = PartitionQueue()
            queues[tp] = queue
        }
        recent = (tp, queue)
        return queue
    }

    /// Forgets the queue of `tp` (it is empty and idle).
    private mutating func removeQueue(_ tp: TopicPartition) {
        queues[tp] = nil
        if recent?.tp == tp { recent = nil }
    }

    /// Closes the open batch of `tp` when a record of `estimatedSize` bytes would not fit in it
    /// (the sticky partitioner then moves on). One in-place dictionary access, no batch copied.
    /// - Returns: true when a batch was closed.
    mutating func closeIfFull(_ tp: TopicPartition, estimatedSize: Int) -> Bool {
        let batchSize = configuration.batchSize
        guard let delta = queue(for: tp).closeOpenIfFull(estimatedSize: estimatedSize, batchSize: batchSize) else {
            return false
        }
        bufferedBytes += delta
        return true
    }

    /// Closes the open batch of `tp`, if any, making it ready.
    @discardableResult
    mutating func closeOpenBatch(_ tp: TopicPartition) -> Bool {
        guard let delta = queues[tp]?.closeOpen() else { return false }
        bufferedBytes += delta
        return true
    }

    /// Appends a record to the open batch of `tp`, closing it first and opening a new one when
    /// the record does not fit. Appends in place: the batch builder is never copied.
    mutating func append(
        to tp: TopicPartition, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader], timestamp: Int64,
        completion: RecordCompletion, now: @autoclosure () -> ContinuousClock.Instant
    ) -> AppendOutcome {
        let outcome = queue(for: tp).append(
            tp, key: key, value: value, headers: headers, timestamp: timestamp, completion: completion, now: now(),
            configuration: configuration)
        bufferedBytes += outcome.addedBytes
        return outcome
    }

    /// Queues a closed batch that must travel alone (a conditional append) behind everything the
    /// partition holds: the open batch is closed first, so records sent before it are stored
    /// before it, and records sent after it open a new batch.
    /// - Returns: the bytes the partition's batches grew by.
    @discardableResult
    mutating func enqueueAlone(_ batch: ProducerBatch) -> Int {
        precondition(!batch.isOpen, "a batch sent alone is closed when queued")
        let queue = queue(for: batch.topicPartition)
        let delta = (queue.closeOpen() ?? 0) + batch.sizeInBytes
        queue.closed.append(batch)
        bufferedBytes += delta
        return delta
    }

    /// Takes every batch that is ready and sendable now, grouped into one request per leader.
    /// - Parameters:
    ///   - flushing: treat open batches as ready regardless of linger.
    ///   - leader: the leader node of a partition, nil when unknown.
    ///   - canSend: whether a node can take another request now (connection open, fewer than
    ///     `maxInFlight` outstanding); asked at most once per node.
    mutating func drain(
        now: ContinuousClock.Instant, flushing: Bool, leader: (TopicPartition) -> Int32?,
        canSend: (Int32) -> Bool
    ) -> Drain {
        var result = Drain()
        var nodeAllowed: [Int32: Bool] = [:]
        var requestBytes: [Int32: Int] = [:]
        let linger = configuration.linger
        for tp in queues.keys.sorted() {
            guard let queue = queues[tp], queue.isSendable(now: now, flushing: flushing, linger: linger) else {
                continue
            }
            guard let node = leader(tp) else {
                result.leaderless.append(tp)
                continue
            }
            let allowed = nodeAllowed[node] ?? canSend(node)
            nodeAllowed[node] = allowed
            guard allowed else {
                result.blockedNodes.insert(node)
                continue
            }
            let (batches, closedOpen, delta) = queue.takeReady(
                now: now, flushing: flushing, linger: linger, alreadyInRequest: requestBytes[node, default: 0],
                maxRequestSize: configuration.maxRequestSize, maxBatches: configuration.maxBatchesPerRequest)
            bufferedBytes += delta
            if closedOpen { result.closedOpenBatches.append(tp) }
            guard !batches.isEmpty else { continue }
            requestBytes[node, default: 0] += batches.reduce(0) { $0 + $1.sizeInBytes }
            result.requests[node, default: []].append((tp, batches))
        }
        return result
    }

    /// The partition's request completed: it may send again.
    mutating func finishedInFlight(_ tp: TopicPartition) {
        guard let queue = queues[tp] else { return }
        queue.inFlight = false
        if queue.isEmpty, queue.retryAt == nil { removeQueue(tp) }
    }

    /// Puts batches back at the front of their partition's queue, to be sent after `retryAt`.
    mutating func requeue(_ batches: [ProducerBatch], for tp: TopicPartition, retryAt: ContinuousClock.Instant) {
        queue(for: tp).requeue(batches, retryAt: retryAt)
    }

    /// Releases the bytes of completed (delivered or failed) batches.
    mutating func release(_ batches: some Sequence<ProducerBatch>) {
        for batch in batches { bufferedBytes -= batch.sizeInBytes }
    }

    /// Removes and returns the batches, not in flight, whose delivery deadline has passed.
    mutating func expire(now: ContinuousClock.Instant) -> [ProducerBatch] {
        var expired: [ProducerBatch] = []
        for queue in queues.values where !queue.inFlight && (queue.first.map { $0.deadline <= now } ?? false) {
            expired += queue.removeExpired(now: now)
        }
        return expired
    }

    /// Records why the queued batches of `node`'s partitions could not be sent, and holds them
    /// back until `retryAt`.
    mutating func noteFailure(
        _ error: TernError, forPartitionsOf node: Int32, leader: (TopicPartition) -> Int32?,
        retryAt: ContinuousClock.Instant
    ) {
        for (tp, queue) in queues where leader(tp) == node {
            queue.noteFailure(error, retryAt: retryAt)
        }
    }

    /// When something next becomes ready or expires, for the linger/backoff timer. Batches that
    /// are ready but wait for a connection or for a response are not counted: the connect or the
    /// response drains again.
    func nextWakeup(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        var earliest: ContinuousClock.Instant?
        func consider(_ instant: ContinuousClock.Instant) {
            if earliest.map({ instant < $0 }) ?? true { earliest = instant }
        }
        for queue in queues.values where !queue.inFlight {
            guard let first = queue.first else { continue }
            if let retryAt = queue.retryAt, retryAt > now { consider(retryAt) }
            let lingerEnd = first.createdAt + configuration.linger
            if first.isOpen, lingerEnd > now { consider(lingerEnd) }
            consider(first.deadline)
        }
        return earliest
    }

    /// Removes every batch not in flight (to fail them when the producer gives up).
    mutating func removeAllQueued() -> [ProducerBatch] {
        var removed: [ProducerBatch] = []
        for (tp, queue) in queues {
            removed += queue.removeAll()
            if !queue.inFlight { removeQueue(tp) }
        }
        return removed
    }
}

/// The batches of one partition, oldest first: closed batches waiting to be sent, then the open
/// one that records are appended to. The open batch is kept apart so that appending reaches it
/// directly. A class, so that the per-record append mutates the batch in place with no
/// copy-on-write check of a dictionary value; only the accumulator (behind the producer's lock)
/// holds it.
final class PartitionQueue {
    /// Closed batches, oldest first.
    var closed = Deque<ProducerBatch>()
    /// The batch records are appended to.
    private(set) var open: ProducerBatch?
    /// `open?.sizeInBytes ?? 0`, kept alongside: reading it through the optional would copy the
    /// batch (a retain and release of each of its buffers) on every record.
    private var openSize = 0
    var inFlight = false
    /// Backoff after a failure: nothing is sent before this.
    var retryAt: ContinuousClock.Instant?

    /// Every batch, oldest first (the open one last).
    var allBatches: [ProducerBatch] { Array(closed) + (open.map { [$0] } ?? []) }
    /// The oldest batch.
    var first: ProducerBatch? { closed.first ?? open }
    var isEmpty: Bool { closed.isEmpty && openSize == 0 }

    /// Closes the open batch; returns how many bytes it grew by, nil when there was none.
    func closeOpen() -> Int? {
        guard var batch = open.take() else { return nil }
        openSize = 0
        let before = batch.sizeInBytes
        batch.close()
        let delta = batch.sizeInBytes - before
        closed.append(batch)
        return delta
    }

    /// Closes the open batch when `estimatedSize` more bytes would not fit.
    func closeOpenIfFull(estimatedSize: Int, batchSize: Int) -> Int? {
        guard openSize > 0, openSize + estimatedSize > batchSize else { return nil }
        return closeOpen()
    }

    func append(
        _ tp: TopicPartition, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader], timestamp: Int64,
        completion: RecordCompletion, now: @autoclosure () -> ContinuousClock.Instant,
        configuration: RecordAccumulator.Configuration
    ) -> RecordAccumulator.AppendOutcome {
        var outcome = RecordAccumulator.AppendOutcome(openedBatch: false, closedBatch: false, addedBytes: 0)
        if openSize > 0 {
            let before = openSize
            let estimate = RecordBatchBuilder.estimatedRecordSize(
                keyCount: key?.count, valueCount: value?.count, headers: headers)
            if before + estimate <= configuration.batchSize {
                openSize =
                    open?.append(key: key, value: value, headers: headers, timestamp: timestamp, completion: completion)
                    ?? before
                outcome.addedBytes = openSize - before
                return outcome
            }
            outcome.addedBytes = closeOpen() ?? 0
            outcome.closedBatch = true
        }
        var batch = ProducerBatch(
            topicPartition: tp, baseTimestamp: timestamp, capacity: min(configuration.batchSize, 1 << 20), now: now(),
            deliveryTimeout: configuration.deliveryTimeout, compression: configuration.compression)
        openSize = batch.append(key: key, value: value, headers: headers, timestamp: timestamp, completion: completion)
        outcome.addedBytes += openSize
        open = batch
        outcome.openedBatch = true
        return outcome
    }

    /// Whether the oldest batch can be sent now.
    func isSendable(now: ContinuousClock.Instant, flushing: Bool, linger: Duration) -> Bool {
        guard !inFlight, let first else { return false }
        if let retryAt, retryAt > now { return false }
        return Self.isReady(first, now: now, flushing: flushing, linger: linger)
    }

    static func isReady(_ batch: ProducerBatch, now: ContinuousClock.Instant, flushing: Bool, linger: Duration) -> Bool {
        !batch.isOpen || flushing || now - batch.createdAt >= linger
    }

    /// Removes the ready batches from the front, up to the request size limit (at least one when
    /// the request is still empty) and `maxBatches`, closing the open one if it is ready; marks the
    /// partition in flight. Numbered batches at the front (an idempotent producer's retry) are
    /// taken as exactly the group that was sent before, whatever the size limit: the broker
    /// recognises a retry only when it repeats what it stored, and stores a group as one append.
    /// - Returns: the batches, whether the open batch was closed, and the bytes closing added.
    func takeReady(
        now: ContinuousClock.Instant, flushing: Bool, linger: Duration, alreadyInRequest: Int, maxRequestSize: Int,
        maxBatches: Int = .max
    ) -> (batches: [ProducerBatch], closedOpen: Bool, addedBytes: Int) {
        var taken: [ProducerBatch] = []
        var bytes = alreadyInRequest
        var closedOpen = false
        var added = 0
        if closed.first?.stamp != nil {
            while let first = closed.first, first.stamp != nil {
                var batch = closed.removeFirst()
                batch.attempts += 1
                taken.append(batch)
            }
            inFlight = true
            retryAt = nil
            return (taken, false, 0)
        }
        if closed.isEmpty, let batch = open, Self.isReady(batch, now: now, flushing: flushing, linger: linger) {
            added = closeOpen() ?? 0
            closedOpen = true
        }
        while let first = closed.first, taken.count < maxBatches {
            if bytes > 0, bytes + first.sizeInBytes > maxRequestSize { break }
            // A conditional batch goes alone: its condition covers exactly its records.
            if first.condition != nil, !taken.isEmpty { break }
            var batch = closed.removeFirst()
            batch.attempts += 1
            bytes += batch.sizeInBytes
            taken.append(batch)
            if batch.condition != nil { break }
            if closed.isEmpty, !closedOpen, taken.count < maxBatches, let open,
                Self.isReady(open, now: now, flushing: flushing, linger: linger)
            {
                added += closeOpen() ?? 0
                closedOpen = true
            }
        }
        if !taken.isEmpty {
            inFlight = true
            retryAt = nil
        }
        return (taken, closedOpen, added)
    }

    func requeue(_ returned: [ProducerBatch], retryAt: ContinuousClock.Instant) {
        closed.prepend(contentsOf: returned)
        inFlight = false
        self.retryAt = retryAt
    }

    func noteFailure(_ error: TernError, retryAt: ContinuousClock.Instant) {
        guard !inFlight, !isEmpty else { return }
        for index in closed.indices { closed[index].lastError = error }
        open?.lastError = error
        self.retryAt = retryAt
    }

    /// Removes the batches, oldest first, whose deadline has passed.
    func removeExpired(now: ContinuousClock.Instant) -> [ProducerBatch] {
        var expired: [ProducerBatch] = []
        while let batch = closed.first, batch.deadline <= now { expired.append(closed.removeFirst()) }
        if closed.isEmpty, let batch = open, batch.deadline <= now, let taken = open.take() {
            openSize = 0
            expired.append(taken)
        }
        return expired
    }

    /// Removes every batch.
    func removeAll() -> [ProducerBatch] {
        defer {
            closed.removeAll()
            open = nil
            openSize = 0
        }
        return allBatches
    }
}
