/// OffsetFetch (key 9): a group's committed offsets.
public struct OffsetFetchRequest: WireRequest, Hashable {
    public typealias Response = OffsetFetchResponse
    public static let apiKey = ApiKey.offsetFetch

    public var groupId: String
    /// The asking member, or "" with `memberEpoch` -1 for a caller outside the group (tools).
    public var memberId: String
    public var memberEpoch: Int32
    /// Partitions to look up; empty means every committed partition of the group.
    public var topics: [TopicPartitionList]

    public init(groupId: String, memberId: String = "", memberEpoch: Int32 = -1, topics: [TopicPartitionList]) {
        self.groupId = groupId
        self.memberId = memberId
        self.memberEpoch = memberEpoch
        self.topics = topics
    }

    public init(from reader: inout ByteReader) throws {
        groupId = try reader.readString("groupId")
        memberId = try reader.readString("memberId")
        memberEpoch = try reader.readInt32("memberEpoch")
        topics = try reader.readTopicPartitionLists()
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeString(groupId)
        writer.writeString(memberId)
        writer.write(memberEpoch)
        writer.writeTopicPartitionLists(topics)
    }
}

public struct OffsetFetchResponse: WireResponse, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        /// The committed offset; -1 when the group has none for the partition.
        public var offset: Int64
        public var errorCode: ErrorCode
        public init(partition: Int32, offset: Int64, errorCode: ErrorCode = .none) {
            self.partition = partition
            self.offset = offset
            self.errorCode = errorCode
        }
    }
    public typealias Topic = TopicPartitions<Partition>

    /// Group-level outcome (fencing, coordinator); when not NONE `topics` is empty.
    public var errorCode: ErrorCode
    public var errorMessage: String?
    public var topics: [Topic]

    public init(errorCode: ErrorCode = .none, errorMessage: String? = nil, topics: [Topic]) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.topics = topics
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        topics = try reader.readTopics(minPartitionSize: 14) { p in
            Partition(
                partition: try p.readInt32("partition"), offset: try p.readInt64("offset"),
                errorCode: ErrorCode(rawValue: try p.readInt16("errorCode")))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.offset)
            w.write(p.errorCode.rawValue)
        }
    }
}
