import TernWire

/// How a produced record reports its outcome: one closure, so that holding and copying it per
/// record is a single retain (the async `send` wraps its continuation in one).
struct RecordCompletion: Sendable {
    private let body: @Sendable (Result<RecordMetadata, TernError>) -> Void

    /// The fire-and-forget path: a callback shared by many records costs no allocation per record.
    static func callback(_ callback: @escaping @Sendable (Result<RecordMetadata, TernError>) -> Void) -> Self {
        Self(body: callback)
    }

    /// The async `send`.
    static func continuation(_ continuation: CheckedContinuation<RecordMetadata, any Error>) -> Self {
        Self(body: { continuation.resume(with: $0.mapError { $0 }) })
    }

    func complete(_ result: Result<RecordMetadata, TernError>) { body(result) }
}

/// A record waiting for its batch's outcome.
struct PendingRecord: Sendable {
    var timestamp: Int64
    var completion: RecordCompletion
}

/// One record batch of one partition: records are encoded straight into its builder as they are
/// sent; it is closed (header and CRC written) when full or when it is sent.
struct ProducerBatch: Sendable {
    let topicPartition: TopicPartition
    let createdAt: ContinuousClock.Instant
    /// When the batch's records fail if they have not been delivered.
    let deadline: ContinuousClock.Instant
    private var builder: RecordBatchBuilder
    /// The codec the records are compressed with when the batch closes.
    let compression: CompressionCodec
    private(set) var records: [PendingRecord] = []
    /// The finished batch bytes, once closed.
    private(set) var encoded: [UInt8]?
    /// Sends so far.
    var attempts = 0
    /// The last retriable error, reported if the batch expires.
    var lastError: TernError?
    /// A conditional append's condition: such a batch is built, closed and sent alone.
    var condition: ProduceCondition?
    /// A conditional batch's id, also carried by its first record's `tern.append.id` header, by
    /// which the broker recognises a retry of the batch after it landed.
    var appendId: [UInt8]?
    /// The idempotent producer's stamp (producer id, epoch, first sequence), set when the batch is
    /// first sent and kept by every retry; nil for a batch not (yet) numbered.
    private(set) var stamp: (producerId: Int64, epoch: Int16, sequence: Int32)?

    init(
        topicPartition: TopicPartition, baseTimestamp: Int64, capacity: Int, now: ContinuousClock.Instant,
        deliveryTimeout: Duration, compression: CompressionCodec = .none
    ) {
        self.compression = compression
        self.topicPartition = topicPartition
        self.createdAt = now
        self.deadline = now + deliveryTimeout
        self.builder = RecordBatchBuilder(baseTimestamp: baseTimestamp, capacity: capacity)
    }

    /// True until ``close()``.
    var isOpen: Bool { encoded == nil }
    /// Number of records.
    var recordCount: Int { records.count }
    /// Bytes of the batch so far (exact once closed).
    var sizeInBytes: Int { encoded?.count ?? builder.sizeInBytes }

    /// Appends a record.
    /// - Returns: the batch's size in bytes after the append.
    @discardableResult
    mutating func append(
        key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader], timestamp: Int64, completion: RecordCompletion
    ) -> Int {
        precondition(isOpen, "append to a closed batch")
        builder.append(key: key, value: value, headers: headers, timestamp: timestamp)
        records.append(PendingRecord(timestamp: timestamp, completion: completion))
        return builder.sizeInBytes
    }

    /// Writes the header and CRC; the batch takes no more records.
    mutating func close() {
        guard encoded == nil else { return }
        encoded = builder.finish(compression: compression)
    }

    /// Numbers a closed batch for the idempotent producer: writes the producer id, epoch and
    /// first sequence into its header and recomputes the CRC (one pass over the batch).
    mutating func stamp(producerId: Int64, epoch: Int16, sequence: Int32) {
        precondition(!isOpen && stamp == nil, "only a closed batch not yet numbered is stamped")
        encoded?.withUnsafeMutableBytes {
            RecordBatchHeader.assignProducer(
                producerId: producerId, producerEpoch: epoch, baseSequence: sequence, in: $0, at: 0)
        }
        stamp = (producerId, epoch, sequence)
    }

    /// Forgets the batch's number, so that its next send numbers it again (its partition's leader
    /// has no state for the producer: UNKNOWN_PRODUCER_ID after a failover to a replica that never
    /// stored the producer's batches); ``stamp(producerId:epoch:sequence:)`` rewrites the header then.
    mutating func clearStamp() {
        stamp = nil
    }

    /// Reports success to every record: offsets count up from `baseOffset` (-1 for acks=0).
    func complete(baseOffset: Int64) {
        let tp = topicPartition
        for (index, record) in records.enumerated() {
            let offset = baseOffset < 0 ? -1 : baseOffset + Int64(index)
            record.completion.complete(
                .success(RecordMetadata(topic: tp.topic, partition: tp.partition, offset: offset, timestamp: record.timestamp)))
        }
    }

    /// Reports `error` to every record.
    func fail(_ error: TernError) {
        for record in records { record.completion.complete(.failure(error)) }
    }
}
