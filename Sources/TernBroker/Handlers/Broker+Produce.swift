import Logging
import Synchronization
import TernNet
import TernStorage
import TernWire

extension Broker {
    /// Produce: validate each partition's batches, append them with one write, then answer
    /// (acks=1), wait for the group-committed fsync (acks=all in sync mode), or stay silent (acks=0).
    ///
    /// A request with a compressed batch (whose validation inflates it, up to 64 MiB) runs on the
    /// ``ValidationPool``, as does every later produce of its connection until that one is done
    /// (appends stay in request order per connection); the rest run here, on the network queue.
    func handleProduce(_ request: ProduceRequest, _ context: RequestContext) {
        let connection = context.connection.id
        if Self.hasCompressedBatch(request) || validationPool.hasWork(for: connection) {
            // The request's bytes wait in memory until their turn: they count as queued request
            // bytes (queued.max.request.bytes) until the produce is done.
            let bytes = request.topics.reduce(0) { sum, topic in
                topic.partitions.reduce(sum) { $0 + $1.records.count }
            }
            validationPool.submit(connection, bytes: bytes) { [self] in performProduce(request, context) }
        } else {
            performProduce(request, context)
        }
    }

    /// Whether any partition's record set holds a compressed batch, from the batch headers alone
    /// (no allocation). Malformed framing counts as uncompressed: validation refuses it cheaply.
    static func hasCompressedBatch(_ request: ProduceRequest) -> Bool {
        for topic in request.topics {
            for partition in topic.partitions {
                let compressed = partition.records.withUnsafeBytes { buffer -> Bool in
                    var position = 0
                    while let header = RecordBatchHeader(buffer, at: position) {
                        if header.attributes & 0x7 != 0 { return true }
                        guard header.batchLength > 0 else { return false }
                        position += header.totalSize
                    }
                    return false
                }
                if compressed { return true }
            }
        }
        return false
    }

    private func performProduce(_ request: ProduceRequest, _ context: RequestContext) {
        let acks = request.acks
        var results: [ProduceResponse.Topic] = []
        results.reserveCapacity(request.topics.count)
        var durableWaits: [(topic: Int, partition: Int, log: PartitionLog, end: Int64)] = []
        var replicatedWaits: [(topic: Int, partition: Int, tp: TopicPartition, end: Int64, epoch: Int32)] = []
        for topic in request.topics {
            let info = topics.topic(topic.name)
            let requireKeys = info.map { resolver.isCompacted($0.configs) } ?? false
            var partitions: [ProduceResponse.Partition] = []
            partitions.reserveCapacity(topic.partitions.count)
            for var partition in topic.partitions {
                let id = partition.partition
                // Answers this partition; an error counts in the request's error metric.
                func answer(_ response: ProduceResponse.Partition) {
                    if response.errorCode != .none { context.metrics.failed(response.errorCode) }
                    partitions.append(response)
                }
                func refuse(_ code: ErrorCode, _ message: String) {
                    answer(.init(partition: id, errorCode: code, errorMessage: message))
                }
                guard acks == 0 || acks == 1 || acks == -1 else {
                    refuse(.invalidRequiredAcks, "acks must be 0, 1 or -1 (all), got \(acks)")
                    continue
                }
                // The image's leader epoch, stamped on the batches (nil: this broker does not lead).
                let leaderEpoch = partitionLeaderEpoch(topic.name, id)
                let tp = TopicPartition(topic.name, id)
                if info?.holds(id) == true, leaderEpoch == nil {
                    refuse(.notLeaderOrFollower, "broker \(config.nodeId) does not lead \(tp)")
                    continue
                }
                guard let info, info.holds(id), let log = logManager.log(for: tp) else {
                    refuse(.unknownTopicOrPartition, "topic '\(topic.name)' has no partition \(id)")
                    continue
                }
                guard !info.isInternal else {
                    refuse(.invalidTopic, "cannot produce to internal topic '\(topic.name)'")
                    continue
                }
                if request.version >= 1, let refusal = refuseCondition(partition, log: log, topic: topic.name) {
                    answer(refusal)
                    continue
                }
                let condition = request.version >= 1 ? partition.condition : nil
                if let replica = replication.hosted(tp) {
                    // A replicated partition: appended under its machine's lock, answered for
                    // acks=all once the high watermark passes the batch.
                    let result = appendAsLeader(replica, acks: acks, topic: topic.name, partition: id) { epoch in
                        append(
                            &partition.records, to: log, topic: topic.name, partition: id, requireKeys: requireKeys,
                            condition: condition, appendId: partition.appendId, leaderEpoch: epoch)
                    }
                    if result.errorCode == .none && acks == -1 {
                        replicatedWaits.append(
                            (results.count, partitions.count, tp, result.endOffset, result.leaderEpoch))
                    }
                    answer(result.response)
                    continue
                }
                if awaitsReplicaHosting(tp) {
                    // Replicated, but its replica machine is not running yet: retriable, the
                    // producer comes back once this broker serves it as a leader.
                    refuse(.notLeaderOrFollower, "broker \(config.nodeId) does not lead \(tp) yet")
                    continue
                }
                if acks == -1, let refusal = refuseSingleReplicaAcksAll(topic.name, id) {
                    answer(refusal)
                    continue
                }
                let result = append(
                    &partition.records, to: log, topic: topic.name, partition: id, requireKeys: requireKeys,
                    condition: condition, appendId: partition.appendId, leaderEpoch: leaderEpoch ?? 0)
                if result.errorCode == .none && acks == -1, case .sync = config.flushMode {
                    durableWaits.append((results.count, partitions.count, log, result.endOffset))
                }
                answer(result.response)
            }
            results.append(ProduceResponse.Topic(name: topic.name, partitions: partitions))
        }

        if acks == 0 { return context.noResponse() }
        if durableWaits.isEmpty && replicatedWaits.isEmpty { return context.respond(ProduceResponse(topics: results)) }

        // acks=all: answer once every appended partition is fsynced (one group commit serves many)
        // and every replicated one's high watermark passed the batch.
        let pending = PendingProduce(
            response: ProduceResponse(topics: results), waits: durableWaits.count + replicatedWaits.count)
        for wait in replicatedWaits {
            producePurgatory.park(
                wait.tp, endOffset: wait.end, leaderEpoch: wait.epoch, timeoutMs: Int(request.timeoutMs)
            ) { code in
                if code != .none {
                    context.metrics.failed(code)
                    pending.fail(
                        topic: wait.topic, partition: wait.partition, code: code, message: "\(wait.tp): \(code)")
                }
                if let response = pending.complete() { context.respond(response) }
            }
        }
        for wait in replicatedWaits { answerPassedProduces(wait.tp) }
        for wait in durableWaits {
            logManager.whenDurable(wait.log, upTo: wait.end) { result in
                if case .failure(let error) = result {
                    context.metrics.failed(.kafkaStorageError)
                    pending.fail(topic: wait.topic, partition: wait.partition, message: "\(error)")
                }
                if let response = pending.complete() { context.respond(response) }
            }
        }
    }

    struct AppendOutcome {
        var response: ProduceResponse.Partition
        var errorCode: ErrorCode { response.errorCode }
        /// Exclusive end offset of the append (everything below must be durable for acks=all).
        var endOffset: Int64
        /// A replicated partition's leader epoch the append was made in (-1: not replicated).
        var leaderEpoch: Int32 = -1
    }

    /// Validates and appends one partition's record set; `requireKeys` for compacted topics,
    /// which refuse records without a key (INVALID_RECORD), as Kafka does. With a `condition`
    /// (Produce v1), the append happens only if it holds (``conditionalAppend``). The batches are
    /// stamped with `leaderEpoch` (the image's; the log records a new epoch's start first).
    private func append(
        _ records: inout [UInt8], to log: PartitionLog, topic: String, partition: Int32, requireKeys: Bool,
        condition: ProduceCondition?, appendId: [UInt8]?, leaderEpoch: Int32
    ) -> AppendOutcome {
        func failure(_ code: ErrorCode, _ message: String) -> AppendOutcome {
            AppendOutcome(
                response: .init(partition: partition, errorCode: code, errorMessage: message), endOffset: -1)
        }
        let batches: [ValidatedBatch]
        do {
            batches = try records.withUnsafeBytes { try RecordBatchValidator.validateProduced($0, requireKeys: requireKeys) }
        } catch let error as WireError {
            logger.debug(
                "refused produce batch",
                metadata: ["tern_topic": "\(topic)", "tern_partition": "\(partition)", "error": "\(error)"])
            return failure(ErrorCode(validationFailure: error), "\(topic)-\(partition): \(error.message)")
        } catch {
            return failure(.invalidRecord, "\(topic)-\(partition): \(error)")
        }
        let maxBatch = log.config.maxMessageBytes
        for batch in batches where batch.size > maxBatch {
            return failure(
                .messageTooLarge, "\(topic)-\(partition): batch of \(batch.size) bytes exceeds max.message.bytes \(maxBatch)")
        }
        if let condition {
            return conditionalAppend(
                &records, batches: batches, to: log, topic: topic, partition: partition, condition: condition,
                appendId: appendId, leaderEpoch: leaderEpoch)
        }
        do {
            let result = try log.append(&records, batches: batches, leaderEpoch: leaderEpoch)
            return appended(result, bytes: records.count, batches: batches, to: log, topic: topic, partition: partition)
        } catch {
            return appendFailure(error, topic: topic, partition: partition)
        }
    }

    /// Wakes the fetches waiting on the partition, counts the append and answers it. A retry of
    /// an idempotent producer's batches already stored appended nothing: it is answered with the
    /// original offsets (and, for acks=all, once those are durable).
    func appended(
        _ result: AppendResult, bytes: Int, batches: [ValidatedBatch], to log: PartitionLog, topic: String,
        partition: Int32
    ) -> AppendOutcome {
        if result.duplicate {
            return AppendOutcome(
                response: .init(partition: partition, baseOffset: result.baseOffset, logStartOffset: result.logStartOffset),
                endOffset: result.lastOffset + 1)
        }
        if replication.hosted(log.topicPartition) != nil {
            // Consumers of a replicated partition wake on high-watermark advance; its followers
            // on appends.
            replicaPurgatory.didAppend(to: log.topicPartition, bytes: bytes)
        } else {
            purgatory.didAppend(to: log.topicPartition, bytes: bytes)
        }
        topicMetrics(topic).produced(
            bytes: bytes, records: batches.reduce(0) { $0 + Int(max($1.header.recordCount, 0)) })
        return AppendOutcome(
            response: .init(partition: partition, baseOffset: result.baseOffset, logStartOffset: result.logStartOffset),
            endOffset: result.lastOffset + 1)
    }

    /// The answer to an append that threw.
    func appendFailure(_ error: any Error, topic: String, partition: Int32) -> AppendOutcome {
        let code: ErrorCode
        if let error = error as? StorageError, let refusal = Self.producerRefusal(error.code) {
            // The producer's mistake or a fenced producer, not the broker's: no error log.
            logger.debug(
                "refused an idempotent producer's batch",
                metadata: ["tern_topic": "\(topic)", "tern_partition": "\(partition)", "error": "\(error)"])
            code = refusal
        } else if let error = error as? StorageError {
            logger.error(
                "append failed", metadata: ["tern_topic": "\(topic)", "tern_partition": "\(partition)", "error": "\(error)"])
            code = error.code == .messageTooLarge ? .messageTooLarge : .kafkaStorageError
        } else {
            code = .kafkaStorageError
        }
        return AppendOutcome(
            response: .init(partition: partition, errorCode: code, errorMessage: "\(topic)-\(partition): \(error)"),
            endOffset: -1)
    }
}

extension Broker {
    /// The protocol error of a producer-state refusal, nil for other storage errors.
    static func producerRefusal(_ code: StorageError.Code) -> ErrorCode? {
        switch code {
        case .outOfOrderSequence: .outOfOrderSequenceNumber
        case .invalidProducerEpoch: .invalidProducerEpoch
        case .unknownProducerId: .unknownProducerId
        case .invalidBatch: .invalidRecord
        default: nil
        }
    }
}

/// Collects the fsync completions of one acks=all produce request.
private final class PendingProduce: Sendable {
    private struct State {
        var response: ProduceResponse
        var remaining: Int
    }
    private let state: Mutex<State>

    init(response: ProduceResponse, waits: Int) {
        state = Mutex(State(response: response, remaining: waits))
    }

    func fail(topic: Int, partition: Int, code: ErrorCode, message: String) {
        state.withLock {
            $0.response.topics[topic].partitions[partition].errorCode = code
            $0.response.topics[topic].partitions[partition].errorMessage = message
            $0.response.topics[topic].partitions[partition].baseOffset = -1
        }
    }

    func fail(topic: Int, partition: Int, message: String) {
        state.withLock {
            $0.response.topics[topic].partitions[partition].errorCode = .kafkaStorageError
            $0.response.topics[topic].partitions[partition].errorMessage = "not durable: \(message)"
            $0.response.topics[topic].partitions[partition].baseOffset = -1
        }
    }

    /// Counts one completion; returns the response when it was the last.
    func complete() -> ProduceResponse? {
        state.withLock {
            $0.remaining -= 1
            return $0.remaining == 0 ? $0.response : nil
        }
    }
}
