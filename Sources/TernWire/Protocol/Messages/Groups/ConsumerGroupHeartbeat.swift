/// ConsumerGroupHeartbeat (key 68): joins, stays in, and leaves a consumer group; the coordinator
/// answers with the member's epoch and its current assignment (KIP-848 style).
///
/// `memberEpoch` 0 joins, a positive value heartbeats, ``leaveEpoch`` (-1) leaves,
/// ``staticLeaveEpoch`` (-2) leaves temporarily keeping a static member's partitions.
public struct ConsumerGroupHeartbeatRequest: WireRequest, Hashable {
    public typealias Response = ConsumerGroupHeartbeatResponse
    public static let apiKey = ApiKey.consumerGroupHeartbeat
    /// `memberEpoch` that joins the group.
    public static let joinEpoch: Int32 = 0
    /// `memberEpoch` that leaves the group for good.
    public static let leaveEpoch: Int32 = -1
    /// `memberEpoch` with which a static member leaves but keeps its partitions for its session timeout.
    public static let staticLeaveEpoch: Int32 = -2

    public var groupId: String
    /// Empty on the first join: the coordinator assigns one.
    public var memberId: String
    public var memberEpoch: Int32
    /// `group.instance.id` of a static member; null for a dynamic one.
    public var instanceId: String?
    /// How long the member may take to release revoked partitions.
    public var rebalanceTimeoutMs: Int32
    /// The consumer's `session.timeout.ms`; the coordinator checks it against its bounds.
    public var sessionTimeoutMs: Int32
    public var subscribedTopics: [String]
    /// Partitions the member still owns (has not released).
    public var ownedPartitions: [TopicPartitionList]

    public init(
        groupId: String, memberId: String, memberEpoch: Int32, instanceId: String? = nil,
        rebalanceTimeoutMs: Int32 = 60_000, sessionTimeoutMs: Int32 = 45_000, subscribedTopics: [String],
        ownedPartitions: [TopicPartitionList]
    ) {
        self.groupId = groupId
        self.memberId = memberId
        self.memberEpoch = memberEpoch
        self.instanceId = instanceId
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.sessionTimeoutMs = sessionTimeoutMs
        self.subscribedTopics = subscribedTopics
        self.ownedPartitions = ownedPartitions
    }

    public init(from reader: inout ByteReader) throws {
        groupId = try reader.readString("groupId")
        memberId = try reader.readString("memberId")
        memberEpoch = try reader.readInt32("memberEpoch")
        instanceId = try reader.readNullableString("instanceId")
        rebalanceTimeoutMs = try reader.readInt32("rebalanceTimeoutMs")
        sessionTimeoutMs = try reader.readInt32("sessionTimeoutMs")
        subscribedTopics = try reader.readStrings("subscribedTopics")
        ownedPartitions = try reader.readTopicPartitionLists("ownedPartitions")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeString(groupId)
        writer.writeString(memberId)
        writer.write(memberEpoch)
        writer.writeNullableString(instanceId)
        writer.write(rebalanceTimeoutMs)
        writer.write(sessionTimeoutMs)
        writer.writeStrings(subscribedTopics)
        writer.writeTopicPartitionLists(ownedPartitions)
    }
}

public struct ConsumerGroupHeartbeatResponse: WireResponse, Hashable {
    public var errorCode: ErrorCode
    public var errorMessage: String?
    public var memberId: String
    /// The member's epoch from now on; sent back in the next heartbeat and in commits.
    public var memberEpoch: Int32
    /// How often the member should heartbeat.
    public var heartbeatIntervalMs: Int32
    /// Every partition the member may consume now (its full assignment).
    public var assignment: [TopicPartitionList]

    public init(
        errorCode: ErrorCode = .none, errorMessage: String? = nil, memberId: String, memberEpoch: Int32,
        heartbeatIntervalMs: Int32, assignment: [TopicPartitionList]
    ) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.memberId = memberId
        self.memberEpoch = memberEpoch
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.assignment = assignment
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        memberId = try reader.readString("memberId")
        memberEpoch = try reader.readInt32("memberEpoch")
        heartbeatIntervalMs = try reader.readInt32("heartbeatIntervalMs")
        assignment = try reader.readTopicPartitionLists("assignment")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.writeString(memberId)
        writer.write(memberEpoch)
        writer.write(heartbeatIntervalMs)
        writer.writeTopicPartitionLists(assignment)
    }
}
