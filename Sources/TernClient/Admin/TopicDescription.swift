/// A topic's partitions, with their leaders, replicas and offsets.
public struct TopicDescription: Hashable, Sendable {
    /// One partition of the topic.
    public struct Partition: Hashable, Sendable {
        /// The partition number.
        public var partition: Int32
        /// The leader's node id; nil while the partition has no leader.
        public var leader: Int32?
        /// The leader epoch the broker reported.
        public var leaderEpoch: Int32
        /// Node ids of every replica.
        public var replicas: [Int32]
        /// Node ids of the in-sync replicas.
        public var isr: [Int32]
        /// The first offset still in the log (ListOffsets earliest); -1 if it could not be read.
        public var logStartOffset: Int64
        /// The offset the next record will get (ListOffsets latest, the high watermark); -1 if it
        /// could not be read.
        public var logEndOffset: Int64

        /// Creates a partition description.
        public init(
            partition: Int32, leader: Int32?, leaderEpoch: Int32, replicas: [Int32], isr: [Int32],
            logStartOffset: Int64, logEndOffset: Int64
        ) {
            self.partition = partition
            self.leader = leader
            self.leaderEpoch = leaderEpoch
            self.replicas = replicas
            self.isr = isr
            self.logStartOffset = logStartOffset
            self.logEndOffset = logEndOffset
        }
    }

    /// The topic's name.
    public var name: String
    /// True for the broker's own topics.
    public var isInternal: Bool
    /// Partitions in order of their number.
    public var partitions: [Partition]

    /// Creates a description.
    public init(name: String, isInternal: Bool, partitions: [Partition]) {
        self.name = name
        self.isInternal = isInternal
        self.partitions = partitions
    }
}
