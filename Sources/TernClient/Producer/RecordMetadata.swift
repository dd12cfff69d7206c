/// Where a produced record was stored.
public struct RecordMetadata: Hashable, Sendable {
    /// The topic.
    public var topic: String
    /// The partition the record went to.
    public var partition: Int32
    /// Its offset in the partition; -1 with acks=0, where the broker does not answer.
    public var offset: Int64
    /// Its timestamp (CreateTime), milliseconds since the epoch.
    public var timestamp: Int64

    /// Creates record metadata.
    public init(topic: String, partition: Int32, offset: Int64, timestamp: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
    }

    /// The topic-partition.
    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}
