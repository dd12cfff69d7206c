/// A topic as `listTopics` reports it.
public struct TopicListing: Hashable, Sendable {
    /// The topic's name.
    public var name: String
    /// Number of partitions.
    public var partitionCount: Int
    /// Replicas per partition (of partition 0).
    public var replicationFactor: Int
    /// True for the broker's own topics (`__consumer_offsets`, …).
    public var isInternal: Bool

    /// Creates a listing.
    public init(name: String, partitionCount: Int, replicationFactor: Int, isInternal: Bool) {
        self.name = name
        self.partitionCount = partitionCount
        self.replicationFactor = replicationFactor
        self.isInternal = isInternal
    }
}
