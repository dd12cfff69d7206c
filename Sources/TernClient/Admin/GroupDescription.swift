/// A consumer group as ``TernAdmin/listGroups()`` lists it.
public struct GroupListing: Sendable, Hashable {
    public var groupId: String
    /// `Empty`, `Reconciling` or `Stable`.
    public var state: String
    public var memberCount: Int
}

/// A consumer group in detail, from ``TernAdmin/describeGroup(_:)``.
public struct GroupDescription: Sendable, Hashable {
    /// One member and the partitions it may consume now.
    public struct Member: Sendable, Hashable {
        public var memberId: String
        /// `group.instance.id` of a static member.
        public var instanceId: String?
        public var clientId: String
        public var clientHost: String
        public var memberEpoch: Int32
        public var subscribedTopics: [String]
        public var assignment: [TopicPartition]
    }

    /// Committed offset, log end offset and lag of one partition.
    public struct PartitionOffsets: Sendable, Hashable {
        public var topic: String
        public var partition: Int32
        /// nil when the group has committed nothing for the partition.
        public var committedOffset: Int64?
        /// nil when the partition no longer exists.
        public var logEndOffset: Int64?
        /// Records between the committed offset (or the log start) and the log end; nil when unknown.
        public var lag: Int64?
        /// The member that consumes the partition now, if any.
        public var memberId: String?
    }

    public var groupId: String
    public var state: String
    public var groupEpoch: Int32
    public var members: [Member]
    public var partitions: [PartitionOffsets]
}

/// Where ``TernAdmin/resetGroupOffsets(group:topic:partitions:to:dryRun:)`` moves a group's offsets.
public enum OffsetResetTarget: Sendable, Hashable {
    /// The log start offset.
    case earliest
    /// The log end offset.
    case latest
    /// This offset, clamped into the log.
    case offset(Int64)
    /// The first offset whose record timestamp is at or after this many ms since the epoch.
    case timestamp(Int64)
}
