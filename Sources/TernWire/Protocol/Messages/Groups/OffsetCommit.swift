/// OffsetCommit (key 8): stores a group's committed offsets, fenced by the member epoch.
public struct OffsetCommitRequest: WireRequest, Hashable {
    public typealias Response = OffsetCommitResponse
    public static let apiKey = ApiKey.offsetCommit
    /// `memberEpoch` of a commit made outside group membership (allowed only while the group has
    /// no members).
    public static let noMemberEpoch: Int32 = -1

    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        /// The offset of the next record to consume.
        public var offset: Int64
        public init(partition: Int32, offset: Int64) {
            self.partition = partition
            self.offset = offset
        }
    }
    public typealias Topic = TopicPartitions<Partition>

    public var groupId: String
    public var memberId: String
    public var memberEpoch: Int32
    public var topics: [Topic]

    public init(groupId: String, memberId: String, memberEpoch: Int32, topics: [Topic]) {
        self.groupId = groupId
        self.memberId = memberId
        self.memberEpoch = memberEpoch
        self.topics = topics
    }

    public init(from reader: inout ByteReader) throws {
        groupId = try reader.readString("groupId")
        memberId = try reader.readString("memberId")
        memberEpoch = try reader.readInt32("memberEpoch")
        topics = try reader.readTopics(minPartitionSize: 12) { p in
            Partition(partition: try p.readInt32("partition"), offset: try p.readInt64("offset"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeString(groupId)
        writer.writeString(memberId)
        writer.write(memberEpoch)
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.offset)
        }
    }
}

public struct OffsetCommitResponse: WireResponse, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var errorCode: ErrorCode
        public init(partition: Int32, errorCode: ErrorCode = .none) {
            self.partition = partition
            self.errorCode = errorCode
        }
    }
    public typealias Topic = TopicPartitions<Partition>

    /// Group-level outcome (fencing, coordinator); when not NONE every partition carries it too.
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
        topics = try reader.readTopics(minPartitionSize: 6) { p in
            Partition(
                partition: try p.readInt32("partition"), errorCode: ErrorCode(rawValue: try p.readInt16("errorCode")))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.errorCode.rawValue)
        }
    }
}
