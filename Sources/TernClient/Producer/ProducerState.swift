import TernWire

/// Everything a ``TernProducer`` knows, as an I/O-free state machine behind its lock: events
/// (a record sent, a drain, a response, a metadata refresh, a failed connect) change it and return
/// ``ProducerEffects`` — completions to call, requests to send, timers to arm — that the producer
/// performs after unlocking. Not `Sendable` (its accumulator holds partition-queue objects): the
/// producer's `Mutex` is what shares it between threads.
struct ProducerState {
    /// A record held until its topic appears in the metadata.
    struct ParkedRecord: Sendable {
        var key: [UInt8]?
        var value: [UInt8]?
        var headers: [RecordHeader]
        var partition: Int32?
        var timestamp: Int64
        var completion: RecordCompletion
    }

    struct ParkedTopic: Sendable {
        var since: ContinuousClock.Instant
        var records: [ParkedRecord] = []
    }

    /// What `place` did with a record.
    enum Placement {
        case appended(RecordAccumulator.AppendOutcome)
        case parked
        case failed(TernError)
    }

    let configuration: ProducerConfiguration
    var accumulator: RecordAccumulator
    var partitioner: StickyPartitioner
    var metadata = ClusterMetadata() {
        didSet {
            partitionCounts = metadata.topics.mapValues(\.partitionCount).filter { $0.value > 0 }
            recentTopic = nil
        }
    }
    /// Partition count per known topic, for the per-record path (no metadata struct copied).
    private(set) var partitionCounts: [String: Int32] = [:]
    /// The topic of the previous record and its partition count: a run of records to one topic
    /// hashes its name once.
    private var recentTopic: (name: String, partitionCount: Int32)?
    var inFlightByNode: [Int32: Int] = [:]
    var connecting: Set<Int32> = []
    var parked: [String: ParkedTopic] = [:]
    var refreshing = false
    var refreshPending = false
    var wakeupAt: ContinuousClock.Instant?
    /// Records accepted and not yet completed (queued, in flight or parked).
    var outstanding = 0
    var flushers = 0
    var flushWaiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    var capacityWaiters: [CheckedContinuation<Void, Never>] = []
    var nextWaiterId: UInt64 = 0
    var closed = false
    /// The idempotent producer's id, epoch and sequences (unused when it is off).
    var idempotence = IdempotenceState()

    init(configuration: ProducerConfiguration, partitioner: StickyPartitioner = StickyPartitioner()) {
        self.configuration = configuration
        self.accumulator = RecordAccumulator(
            configuration: .init(
                batchSize: configuration.batchSize, linger: configuration.linger,
                deliveryTimeout: configuration.deliveryTimeout, maxRequestSize: configuration.maxRequestSize,
                compression: configuration.compression,
                maxBatchesPerRequest: configuration.isIdempotent ? 5 : .max))
        self.partitioner = partitioner
    }

    // MARK: Records in

    /// Chooses the record's partition and appends it, or parks it while its topic is unknown.
    mutating func place(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader], partition: Int32?,
        timestamp: Int64, completion: RecordCompletion, now: @autoclosure () -> ContinuousClock.Instant
    ) -> Placement {
        let known: Int32?
        if let recentTopic, recentTopic.name == topic {
            known = recentTopic.partitionCount
        } else {
            known = partitionCounts[topic]
            if let known { recentTopic = (topic, known) }
        }
        guard let count = known else {
            let record = ParkedRecord(
                key: key, value: value, headers: headers, partition: partition, timestamp: timestamp,
                completion: completion)
            parked[topic, default: ParkedTopic(since: now())].records.append(record)
            outstanding += 1
            return .parked
        }
        var chosen: Int32
        var closedSticky = false
        if let partition {
            guard partition >= 0, partition < count else {
                return .failed(
                    TernError(
                        .invalidArgument,
                        "topic '\(topic)' has \(count) partition\(count == 1 ? "" : "s"); partition \(partition) does not exist"))
            }
            chosen = partition
        } else if let key {
            chosen = Murmur2.partition(forKey: key, partitionCount: count)
        } else {
            chosen = partitioner.stickyPartition(topic: topic, partitionCount: count)
            let estimate = RecordBatchBuilder.estimatedRecordSize(
                keyCount: nil, valueCount: value?.count, headers: headers)
            let tp = TopicPartition(topic: topic, partition: chosen)
            // Kafka's sticky partitioner: a record that would start a new batch closes the full one
            // and moves on to the next partition instead.
            if accumulator.closeIfFull(tp, estimatedSize: estimate) {
                partitioner.batchClosed(topic: topic, partition: chosen, partitionCount: count)
                chosen = partitioner.stickyPartition(topic: topic, partitionCount: count)
                closedSticky = true
            }
        }
        let tp = TopicPartition(topic: topic, partition: chosen)
        var outcome = accumulator.append(
            to: tp, key: key, value: value, headers: headers, timestamp: timestamp, completion: completion, now: now())
        if outcome.closedBatch {
            partitioner.batchClosed(topic: topic, partition: chosen, partitionCount: count)
        }
        outcome.closedBatch = outcome.closedBatch || closedSticky
        outstanding += 1
        return .appended(outcome)
    }

    /// Queues a closed batch that travels alone (an atomic or conditional send): behind every
    /// record of its partition sent before it, and in no request partition with other batches
    /// when it carries a condition.
    mutating func placeAlone(_ batch: ProducerBatch) {
        accumulator.enqueueAlone(batch)
        outstanding += batch.recordCount
    }

    /// Asks for the timer to fire at `instant` unless it already fires earlier.
    mutating func arm(_ instant: ContinuousClock.Instant, into effects: inout ProducerEffects) {
        if let wakeupAt, wakeupAt <= instant { return }
        wakeupAt = instant
        effects.arm = instant
    }

    // MARK: Draining

    /// Expires overdue batches and takes what can be sent now.
    /// - Parameter connectionReady: whether an open connection to the node exists.
    mutating func drain(now: ContinuousClock.Instant, connectionReady: (Int32) -> Bool) -> ProducerEffects {
        var effects = ProducerEffects()
        let expired = accumulator.expire(now: now)
        if !expired.isEmpty {
            accumulator.release(expired)
            let seconds = configuration.deliveryTimeout.components.seconds
            for batch in expired {
                outstanding -= batch.recordCount
                var message = "delivery of \(batch.recordCount) record\(batch.recordCount == 1 ? "" : "s") to "
                    + "\(batch.topicPartition) timed out after \(seconds) s"
                if let last = batch.lastError { message += "; last error: \(last.message)" }
                let error = TernError(.timedOut, message, brokerError: batch.lastError?.brokerError)
                effects.fail.append((batch, error))
                // Sent before and given up: whether it was stored is unknown.
                noteFailed([batch], error: error, fateUnknown: true)
            }
        }
        if let fatal = idempotence.fatal {
            // Fenced (or no producer id to be had): nothing held can be delivered.
            let held = accumulator.removeAllQueued()
            accumulator.release(held)
            for batch in held {
                outstanding -= batch.recordCount
                effects.fail.append((batch, fatal))
            }
            collectWaiters(into: &effects)
            return effects
        }
        if awaitingProducerId(into: &effects) {
            if let next = accumulator.nextWakeup(after: now) { arm(max(next, now), into: &effects) }
            collectWaiters(into: &effects)
            return effects
        }

        let snapshot = metadata
        let inFlight = inFlightByNode
        let maxInFlight = max(1, configuration.maxInFlightRequestsPerConnection)
        let alreadyConnecting = connecting
        var connect: Set<Int32> = []
        var drained = accumulator.drain(
            now: now, flushing: flushers > 0 || closed,
            leader: { snapshot.leader(topic: $0.topic, partition: $0.partition) },
            canSend: { node in
                guard inFlight[node, default: 0] < maxInFlight else { return false }
                guard connectionReady(node) else {
                    if !alreadyConnecting.contains(node) { connect.insert(node) }
                    return false
                }
                return true
            })
        for tp in drained.closedOpenBatches {
            partitioner.batchClosed(
                topic: tp.topic, partition: tp.partition, partitionCount: snapshot.topics[tp.topic]?.partitionCount ?? 0)
        }
        if configuration.acks != .none {
            for node in drained.requests.keys { inFlightByNode[node, default: 0] += 1 }
        }
        var requests = drained.requests
        drained.requests = [:]  // `requests` alone holds the batches: stamped in place
        stampDrained(&requests)
        effects.send = requests
        connecting.formUnion(connect)
        effects.connect = Array(connect)
        if !drained.leaderless.isEmpty { effects.refreshMetadata = true }
        if let next = accumulator.nextWakeup(after: now) { arm(max(next, now), into: &effects) }
        collectWaiters(into: &effects)
        return effects
    }

    // MARK: Outcomes

    /// Applies the outcome of a produce request to `node`.
    mutating func apply(
        _ outcomes: [TopicPartition: ProduceOutcome], sent: [(TopicPartition, [ProducerBatch])], node: Int32,
        now: ContinuousClock.Instant
    ) -> ProducerEffects {
        var effects = ProducerEffects()
        if configuration.acks != .none { inFlightByNode[node, default: 1] -= 1 }
        for (tp, batches) in sent {
            let outcome =
                outcomes[tp] ?? .failed(TernError(.protocolError, "produce to \(tp): no outcome for the partition"))
            switch outcome {
            case .delivered(let baseOffset):
                finish(tp, batches)
                var offset = baseOffset
                for batch in batches {
                    effects.deliver.append((batch, offset))
                    if offset >= 0 { offset += Int64(batch.recordCount) }
                }
            case .retriable(let error):
                let first = batches[0]
                if first.attempts <= configuration.retries, now < first.deadline {
                    var returned = batches
                    for index in returned.indices { returned[index].lastError = error }
                    accumulator.requeue(returned, for: tp, retryAt: now + configuration.retryBackoff)
                    effects.refreshMetadata = true
                } else {
                    finish(tp, batches)
                    let attempts = first.attempts
                    let failure = TernError(
                        error.code, "\(error.message) (after \(attempts) attempt\(attempts == 1 ? "" : "s"))",
                        brokerError: error.brokerError)
                    for batch in batches { effects.fail.append((batch, failure)) }
                    noteFailed(batches, error: failure, fateUnknown: true)
                }
            case .failed(let error) where renumberAfterUnknownProducer(tp, batches, error: error, now: now):
                effects.refreshMetadata = true
            case .failed(let error):
                finish(tp, batches)
                for batch in batches { effects.fail.append((batch, error)) }
                noteFailed(batches, error: error, fateUnknown: false)
            }
        }
        effects.drainAgain = true
        collectWaiters(into: &effects)
        return effects
    }

    private mutating func finish(_ tp: TopicPartition, _ batches: [ProducerBatch]) {
        accumulator.finishedInFlight(tp)
        accumulator.release(batches)
        for batch in batches { outstanding -= batch.recordCount }
    }

    /// A connection to `node` could not be opened: its partitions back off and metadata is
    /// refreshed (the leader may have moved).
    mutating func connectFailed(node: Int32, error: TernError, now: ContinuousClock.Instant) -> ProducerEffects {
        var effects = ProducerEffects()
        connecting.remove(node)
        let snapshot = metadata
        accumulator.noteFailure(
            error, forPartitionsOf: node, leader: { snapshot.leader(topic: $0.topic, partition: $0.partition) },
            retryAt: now + configuration.retryBackoff)
        effects.refreshMetadata = true
        if let next = accumulator.nextWakeup(after: now) { arm(max(next, now), into: &effects) }
        return effects
    }

    // MARK: Metadata

    /// Takes a refreshed snapshot (or the refresh's failure): parked records whose topic is now
    /// known are placed; those that waited longer than `metadataWait` fail.
    mutating func metadataRefreshed(_ result: Result<ClusterMetadata, TernError>, now: ContinuousClock.Instant)
        -> ProducerEffects
    {
        var effects = ProducerEffects()
        refreshing = false
        if case .success(let snapshot) = result { metadata = snapshot }
        for (topic, held) in parked {
            if let known = metadata.topics[topic], known.partitionCount > 0 {
                parked[topic] = nil
                outstanding -= held.records.count
                for record in held.records {
                    let placement = place(
                        topic: topic, key: record.key, value: record.value, headers: record.headers,
                        partition: record.partition, timestamp: record.timestamp, completion: record.completion, now: now)
                    if case .failed(let error) = placement { effects.failRecords.append((record.completion, error)) }
                }
                effects.drainAgain = true
            } else if now - held.since >= configuration.metadataWait {
                parked[topic] = nil
                outstanding -= held.records.count
                let error: TernError
                switch result {
                case .success:
                    error = TernError(
                        .unknownTopic, "cannot produce to topic '\(topic)': it does not exist",
                        brokerError: .unknownTopicOrPartition)
                case .failure(let failure):
                    error = TernError(
                        failure.code, "cannot produce to topic '\(topic)': no metadata: \(failure.message)",
                        brokerError: failure.brokerError)
                }
                for record in held.records { effects.failRecords.append((record.completion, error)) }
            } else {
                effects.refreshAfter = configuration.retryBackoff
            }
        }
        if refreshPending {
            refreshPending = false
            effects.refreshAfter = effects.refreshAfter ?? configuration.retryBackoff
        }
        effects.drainAgain = true
        collectWaiters(into: &effects)
        return effects
    }

    /// Whether to start a metadata refresh now (one at a time; a request during one is remembered).
    mutating func beginRefresh() -> Bool {
        guard !refreshing else {
            refreshPending = true
            return false
        }
        refreshing = true
        return true
    }

    // MARK: Waiters

    /// Hands over the flush and capacity waiters that can be resumed.
    mutating func collectWaiters(into effects: inout ProducerEffects) {
        if outstanding == 0, !flushWaiters.isEmpty {
            effects.resumeFlush += flushWaiters.values
            flushers -= flushWaiters.count
            flushWaiters.removeAll()
        }
        if !capacityWaiters.isEmpty, accumulator.bufferedBytes < configuration.bufferMemory || closed {
            effects.resumeCapacity += capacityWaiters
            capacityWaiters.removeAll()
        }
    }
}

/// What the producer does after a state change, outside its lock.
struct ProducerEffects: Sendable {
    var deliver: [(ProducerBatch, Int64)] = []
    var fail: [(ProducerBatch, TernError)] = []
    var failRecords: [(RecordCompletion, TernError)] = []
    var send: [Int32: [(TopicPartition, [ProducerBatch])]] = [:]
    var connect: [Int32] = []
    var refreshMetadata = false
    var refreshAfter: Duration?
    var arm: ContinuousClock.Instant?
    /// Ask a broker for a producer id (InitProducerId), then drain.
    var initProducerId = false
    /// Drain again after this long (a producer id to ask for again).
    var drainAfter: Duration?
    var drainAgain = false
    var resumeFlush: [CheckedContinuation<Void, any Error>] = []
    var resumeCapacity: [CheckedContinuation<Void, Never>] = []
}
