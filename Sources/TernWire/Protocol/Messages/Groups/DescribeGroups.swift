/// DescribeGroups (key 15): state, members with their assignments, and committed offsets with
/// log end offsets and lag.
public struct DescribeGroupsRequest: WireRequest, Hashable {
    public typealias Response = DescribeGroupsResponse
    public static let apiKey = ApiKey.describeGroups
    public var groupIds: [String]

    public init(groupIds: [String]) { self.groupIds = groupIds }

    public init(from reader: inout ByteReader) throws {
        groupIds = try reader.readStrings("groupIds")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeStrings(groupIds)
    }
}

public struct DescribeGroupsResponse: WireResponse, Hashable {
    public struct Member: Sendable, Hashable {
        public var memberId: String
        public var instanceId: String?
        public var clientId: String
        public var clientHost: String
        public var memberEpoch: Int32
        public var subscribedTopics: [String]
        /// Partitions the member may consume now.
        public var assignment: [TopicPartitionList]
        public init(
            memberId: String, instanceId: String? = nil, clientId: String, clientHost: String, memberEpoch: Int32,
            subscribedTopics: [String], assignment: [TopicPartitionList]
        ) {
            self.memberId = memberId
            self.instanceId = instanceId
            self.clientId = clientId
            self.clientHost = clientHost
            self.memberEpoch = memberEpoch
            self.subscribedTopics = subscribedTopics
            self.assignment = assignment
        }
    }

    public struct Offset: Sendable, Hashable {
        public var partition: Int32
        /// -1 when nothing is committed.
        public var committedOffset: Int64
        /// -1 when the partition no longer exists.
        public var logEndOffset: Int64
        /// logEndOffset − committedOffset (from the log start offset when nothing is committed); -1 when unknown.
        public var lag: Int64
        public init(partition: Int32, committedOffset: Int64, logEndOffset: Int64, lag: Int64) {
            self.partition = partition
            self.committedOffset = committedOffset
            self.logEndOffset = logEndOffset
            self.lag = lag
        }
    }

    public struct Group: Sendable, Hashable {
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var groupId: String
        /// `Empty`, `Reconciling`, `Stable`, or `Dead` (no such group).
        public var state: String
        public var groupEpoch: Int32
        public var members: [Member]
        public var offsets: [TopicPartitions<Offset>]
        public init(
            errorCode: ErrorCode = .none, errorMessage: String? = nil, groupId: String, state: String,
            groupEpoch: Int32, members: [Member], offsets: [TopicPartitions<Offset>]
        ) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.groupId = groupId
            self.state = state
            self.groupEpoch = groupEpoch
            self.members = members
            self.offsets = offsets
        }
    }
    public var groups: [Group]

    public init(groups: [Group]) { self.groups = groups }

    public init(from reader: inout ByteReader) throws {
        groups = try reader.readArray("groups", minElementSize: 20) { r in
            Group(
                errorCode: ErrorCode(rawValue: try r.readInt16("errorCode")),
                errorMessage: try r.readNullableString("errorMessage"), groupId: try r.readString("groupId"),
                state: try r.readString("state"), groupEpoch: try r.readInt32("groupEpoch"),
                members: try r.readArray("members", minElementSize: 20) { m in
                    Member(
                        memberId: try m.readString("memberId"), instanceId: try m.readNullableString("instanceId"),
                        clientId: try m.readString("clientId"), clientHost: try m.readString("clientHost"),
                        memberEpoch: try m.readInt32("memberEpoch"),
                        subscribedTopics: try m.readStrings("subscribedTopics"),
                        assignment: try m.readTopicPartitionLists("assignment"))
                },
                offsets: try r.readTopics(minPartitionSize: 28) { p in
                    Offset(
                        partition: try p.readInt32("partition"), committedOffset: try p.readInt64("committedOffset"),
                        logEndOffset: try p.readInt64("logEndOffset"), lag: try p.readInt64("lag"))
                })
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(groups) { w, g in
            w.write(g.errorCode.rawValue)
            w.writeNullableString(g.errorMessage)
            w.writeString(g.groupId)
            w.writeString(g.state)
            w.write(g.groupEpoch)
            w.writeArray(g.members) { w, m in
                w.writeString(m.memberId)
                w.writeNullableString(m.instanceId)
                w.writeString(m.clientId)
                w.writeString(m.clientHost)
                w.write(m.memberEpoch)
                w.writeStrings(m.subscribedTopics)
                w.writeTopicPartitionLists(m.assignment)
            }
            w.writeTopics(g.offsets) { w, p in
                w.write(p.partition)
                w.write(p.committedOffset)
                w.write(p.logEndOffset)
                w.write(p.lag)
            }
        }
    }
}
