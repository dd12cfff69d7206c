import TernWire

/// A condition on an append (optimistic concurrency), checked by the partition's leader
/// atomically with the append: when it does not hold, nothing of the batch is appended and the
/// send throws a ``TernError`` with code ``TernError/Code/conditionFailed`` whose
/// ``TernError/actualOffset`` is what the broker saw, so the writer can reload and retry.
public enum AppendCondition: Sendable, Hashable {
    /// The partition's log end offset must be this: the first record gets exactly this offset.
    case endOffset(Int64)
    /// The latest record with the batch's key must be at this offset (every record of the batch
    /// carries that key). Needs `key.index.enable=true` on the topic.
    case keyLastOffset(Int64)
    /// The batch's key must have no record yet (`keyLastOffset(-1)`).
    case keyAbsent

    /// The condition as Produce v1 carries it.
    var wire: ProduceCondition {
        switch self {
        case .endOffset(let offset): .endOffset(offset)
        case .keyLastOffset(let offset): .keyLastOffset(offset)
        case .keyAbsent: .keyLastOffset(-1)
        }
    }

    /// Whether the condition is about the batch's key.
    var isKeyCondition: Bool {
        switch self {
        case .endOffset: false
        case .keyLastOffset, .keyAbsent: true
        }
    }
}

/// One record of an atomic multi-record send (``TernProducer/sendAtomically(topic:records:partition:condition:)``).
public struct ProducerRecord: Sendable, Hashable {
    /// The key; nil for none.
    public var key: [UInt8]?
    /// The value; nil is a tombstone on compacted topics.
    public var value: [UInt8]?
    /// Record headers.
    public var headers: [RecordHeader]
    /// CreateTime in ms since the epoch; nil for now.
    public var timestamp: Int64?

    /// Creates a record.
    public init(key: [UInt8]? = nil, value: [UInt8]?, headers: [RecordHeader] = [], timestamp: Int64? = nil) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
}
