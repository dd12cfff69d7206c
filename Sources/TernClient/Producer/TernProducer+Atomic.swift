import Synchronization
import TernWire

extension TernProducer {
    /// Sends one record only if `condition` holds when the partition's leader appends it
    /// (optimistic concurrency), and waits for the answer.
    ///
    /// The record travels in a batch of its own, never with unrelated records. A retry after a
    /// lost answer is recognised by the broker (the batch carries a unique `tern.append.id`
    /// header), so a send that landed is never reported as a conflict because of its own retry.
    /// - Parameters:
    ///   - condition: ``AppendCondition/endOffset(_:)`` (the record must get exactly that offset),
    ///     ``AppendCondition/keyLastOffset(_:)`` or ``AppendCondition/keyAbsent`` (the key's latest
    ///     record must be at that offset, or there must be none; needs `key.index.enable=true`).
    /// - Returns: Where the record was stored.
    /// - Throws: ``TernError`` with code ``TernError/Code/conditionFailed`` and
    ///   ``TernError/actualOffset`` when the condition did not hold (nothing was appended);
    ///   otherwise as ``send(topic:key:value:headers:partition:timestamp:)``.
    @discardableResult
    public func send(
        topic: String, key: [UInt8]? = nil, value: [UInt8]?, headers: [RecordHeader] = [], partition: Int32? = nil,
        timestamp: Int64? = nil, condition: AppendCondition
    ) async throws -> RecordMetadata {
        let stored = try await sendAtomically(
            topic: topic, records: [ProducerRecord(key: key, value: value, headers: headers, timestamp: timestamp)],
            partition: partition, condition: condition)
        // One record in, one metadata out (sendAtomically answers per record).
        guard let first = stored.first else {
            throw TernError(.protocolError, "produce to \(topic): no offset for the record")
        }
        return first
    }

    /// Sends several records as one batch to one partition: all are appended, at consecutive
    /// offsets, or none is. With a `condition`, only if it holds (see
    /// ``send(topic:key:value:headers:partition:timestamp:condition:)``).
    ///
    /// The partition is `partition`, or the one of the records' key (they must then all carry
    /// the same key). A key condition needs every record to carry the same key. The batch must
    /// fit the topic's `max.message.bytes`.
    /// - Returns: Where each record was stored, in order.
    /// - Throws: ``TernError``: `.invalidArgument` (no records, keys that differ without a
    ///   partition or with a key condition, acks=0 with a condition, a partition that does not
    ///   exist), `.conditionFailed`, `.unknownTopic`, `.broker`, `.timedOut`, `.closed`.
    @discardableResult
    public func sendAtomically(
        topic: String, records: [ProducerRecord], partition: Int32? = nil, condition: AppendCondition? = nil
    ) async throws -> [RecordMetadata] {
        guard let first = records.first else {
            throw TernError(.invalidArgument, "cannot send an empty atomic batch to topic '\(topic)'")
        }
        let sharedKey = records.allSatisfy { $0.key != nil && $0.key == first.key } ? first.key : nil
        if let condition {
            guard configuration.acks != .none else {
                throw TernError(
                    .invalidArgument, "a conditional send needs acks=1 or acks=all: with acks=0 nothing answers")
            }
            if condition.isKeyCondition, sharedKey == nil {
                throw TernError(
                    .invalidArgument, "a key condition needs every record to carry the same (non-null) key")
            }
        }
        let count = Int32(clamping: try await client.partitionCount(topic: topic))
        let chosen: Int32
        if let partition {
            guard partition >= 0, partition < count else {
                throw TernError(
                    .invalidArgument,
                    "topic '\(topic)' has \(count) partition\(count == 1 ? "" : "s"); partition \(partition) does not exist"
                )
            }
            chosen = partition
        } else if let sharedKey {
            chosen = Murmur2.partition(forKey: sharedKey, partitionCount: count)
        } else {
            throw TernError(
                .invalidArgument, "an atomic batch without a partition needs every record to carry the same key")
        }

        await waitForCapacity()
        let now = WallClock.nowMilliseconds()
        let appendId = condition == nil ? nil : Self.newAppendId()
        let collector = AtomicSendCollector(count: records.count)
        var batch = ProducerBatch(
            topicPartition: TopicPartition(topic: topic, partition: chosen), baseTimestamp: first.timestamp ?? now,
            capacity: records.reduce(RecordBatchHeader.size) {
                $0
                    + RecordBatchBuilder.estimatedRecordSize(
                        keyCount: $1.key?.count, valueCount: $1.value?.count, headers: $1.headers)
            } + 64,
            now: .now, deliveryTimeout: configuration.deliveryTimeout, compression: configuration.compression)
        for (index, record) in records.enumerated() {
            var headers = record.headers
            if index == 0, let appendId {
                headers.append(RecordHeader(key: ProduceCondition.appendIdHeader, value: appendId))
            }
            batch.append(
                key: record.key, value: record.value, headers: headers, timestamp: record.timestamp ?? now,
                completion: .callback { collector.record(index, $0) })
        }
        batch.condition = condition?.wire
        batch.appendId = appendId
        batch.close()
        return try await withCheckedThrowingContinuation { continuation in
            collector.start(continuation)
            let closed = state.withLock { state -> Bool in
                if state.closed { return true }
                state.placeAlone(batch)
                return false
            }
            if closed {
                batch.fail(TernError(.closed, "cannot produce to topic '\(topic)': the producer is closed"))
            } else {
                drain()
            }
        }
    }

    /// 16 random bytes: unique per conditional batch with overwhelming probability.
    static func newAppendId() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for _ in 0..<2 {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) {
                bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            }
        }
        return bytes
    }
}

/// Gathers the per-record outcomes of one atomic batch into one answer: every record of a
/// batch shares its fate, so the first failure is the batch's.
private final class AtomicSendCollector: Sendable {
    private struct State {
        var results: [RecordMetadata?]
        var remaining: Int
        var failure: TernError?
        var continuation: CheckedContinuation<[RecordMetadata], any Error>?
    }
    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count))
    }

    /// Sets where the answer goes (before any record can complete).
    func start(_ continuation: CheckedContinuation<[RecordMetadata], any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func record(_ index: Int, _ result: Result<RecordMetadata, TernError>) {
        let answer = state.withLock {
            state -> (CheckedContinuation<[RecordMetadata], any Error>, Result<[RecordMetadata], any Error>)? in
            switch result {
            case .success(let metadata): state.results[index] = metadata
            case .failure(let error): if state.failure == nil { state.failure = error }
            }
            state.remaining -= 1
            guard state.remaining == 0, let continuation = state.continuation.take() else { return nil }
            if let failure = state.failure { return (continuation, .failure(failure)) }
            return (continuation, .success(state.results.compactMap { $0 }))
        }
        if let (continuation, result) = answer { continuation.resume(with: result) }
    }
}
