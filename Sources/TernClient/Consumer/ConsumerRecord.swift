/// A record read by a ``TernConsumer``.
///
/// Its key and value are slices of the bytes fetched for its partition, shared by every record
/// of that fetch rather than copied one by one; a record kept for long keeps that buffer alive
/// (copy with `Array(value)` to keep just the value).
public struct ConsumerRecord: Hashable, Sendable {
    /// The topic.
    public var topic: String
    /// The partition.
    public var partition: Int32
    /// The record's offset in the partition.
    public var offset: Int64
    /// Milliseconds since the epoch (CreateTime, or LogAppendTime if the topic uses it).
    public var timestamp: Int64
    /// The key; nil for records without one.
    public var key: ArraySlice<UInt8>?
    /// The value; nil for tombstones.
    public var value: ArraySlice<UInt8>?
    /// Headers, in order.
    public var headers: [RecordHeader]

    /// Creates a record.
    public init(
        topic: String, partition: Int32, offset: Int64, timestamp: Int64, key: ArraySlice<UInt8>?,
        value: ArraySlice<UInt8>?, headers: [RecordHeader] = []
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// The topic-partition.
    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}
